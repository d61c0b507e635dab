#include "mmcl/models/t5.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/models/transformer.h"

namespace mmcl::models {

at::Tensor relative_position_bucket(const at::Tensor& relative, int64_t buckets, int64_t max_distance) {
  const int64_t half = buckets / 2;  // one half per direction: keys before and after the query
  const at::Tensor n = -relative;
  at::Tensor out = n.lt(0).to(at::kLong) * half;
  const at::Tensor distance = n.abs();
  const int64_t exact = half / 2;  // distances below this have a bucket each
  // The others, logarithmically: exact + log(distance / exact) / log(max_distance / exact) * (half - exact).
  const at::Tensor large =
      (exact + (distance.to(at::kFloat).clamp_min(1) / static_cast<double>(exact)).log() /
                   std::log(static_cast<double>(max_distance) / static_cast<double>(exact)) *
                   static_cast<double>(half - exact))
          .to(at::kLong)
          .clamp_max(half - 1);
  return out + at::where(distance.lt(exact), distance, large);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  return (xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps)).to(x.dtype()) * weight.to(x.dtype());
}

T5BlockImpl::T5BlockImpl(int64_t width, int64_t heads_, int64_t mlp, double dropout_) : heads(heads_), dropout(dropout_) {
  MMCL_CHECK(width % heads == 0, "T5 block: width ", width, " is not a multiple of ", heads, " heads");
  attn_norm = register_parameter("attn_norm", torch::ones({width}));
  const auto no_bias = [](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  q = register_module("q", no_bias(width, width));
  k = register_module("k", no_bias(width, width));
  v = register_module("v", no_bias(width, width));
  o = register_module("o", no_bias(width, width));
  mlp_norm = register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6)));
  wi = register_module("wi", no_bias(width, mlp));
  wo = register_module("wo", no_bias(mlp, width));
  // T5's initialisation (Mesh TensorFlow): the query's std folds in the 1/sqrt(d_head) the scores omit.
  torch::NoGradGuard no_grad;
  const double d = static_cast<double>(width), head = static_cast<double>(width / heads);
  q->weight.normal_(0, 1 / std::sqrt(d * head));
  k->weight.normal_(0, 1 / std::sqrt(d));
  v->weight.normal_(0, 1 / std::sqrt(d));
  o->weight.normal_(0, 1 / std::sqrt(d));
  wi->weight.normal_(0, 1 / std::sqrt(d));
  wo->weight.normal_(0, 1 / std::sqrt(static_cast<double>(mlp)));
}

at::Tensor T5BlockImpl::forward(const at::Tensor& x, const at::Tensor& bias) {
  const int64_t n = x.size(0), length = x.size(1), width = x.size(2), head = width / heads;
  const at::Tensor h = rms_norm(x, attn_norm);
  const auto split = [&](const at::Tensor& t) { return t.view({n, length, heads, head}).transpose(1, 2); };
  // attention() divides the scores by sqrt(d_head); T5 does not, so the queries are scaled up by as much.
  const at::Tensor a = attention(split(linear(q, h)) * std::sqrt(static_cast<double>(head)), split(linear(k, h)),
                                 split(linear(v, h)), bias.to(x.dtype()))
                           .transpose(1, 2)
                           .reshape({n, length, width});
  at::Tensor y = x + at::dropout(linear(o, a), dropout, is_training());
  const at::Tensor m = linear(wo, at::dropout(at::gelu(linear(wi, mlp_norm(y))), dropout, is_training()));
  return y + at::dropout(m, dropout, is_training());
}

T5EncoderImpl::T5EncoderImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio, int64_t buckets_,
                             int64_t max_distance_, double dropout_)
    : buckets(buckets_), max_distance(max_distance_), dropout(dropout_) {
  MMCL_CHECK(buckets >= 4 && max_distance >= buckets / 4 + 1, "T5 encoder: ", buckets, " relative buckets up to distance ",
             max_distance, " do not make a bucketing (at least 4 buckets, distance above buckets / 4)");
  relative_attention_bias = register_module("relative_attention_bias", torch::nn::Embedding(buckets, heads));
  blocks = register_module("blocks", torch::nn::ModuleList());
  const auto mlp = static_cast<int64_t>(std::llround(static_cast<double>(width) * mlp_ratio));
  for (int64_t i = 0; i < layers; ++i) blocks->push_back(T5Block(width, heads, mlp, dropout));
  final_norm = register_parameter("final_norm", torch::ones({width}));
  torch::NoGradGuard no_grad;
  relative_attention_bias->weight.normal_(0, 1 / std::sqrt(static_cast<double>(width)));
}

at::Tensor T5EncoderImpl::position_bias(int64_t length) const {
  const at::Tensor pos = at::arange(length, relative_attention_bias->weight.options().dtype(at::kLong));
  const at::Tensor bucket = relative_position_bucket(pos.view({1, length}) - pos.view({length, 1}), buckets, max_distance);
  return relative_attention_bias->weight.index_select(0, bucket.flatten())
      .view({length, length, -1})
      .permute({2, 0, 1})
      .unsqueeze(0);  // [1, H, L, L]
}

at::Tensor T5EncoderImpl::forward(const at::Tensor& x_in, const at::Tensor& padding) {
  MMCL_CHECK(x_in.dim() == 3, "T5 encoder: expected [N, L, d], got ", x_in.sizes());
  at::Tensor bias = position_bias(x_in.size(1));
  if (padding.defined())
    bias = bias + at::zeros(padding.sizes(), bias.options())
                      .masked_fill(padding, -std::numeric_limits<double>::infinity())
                      .view({padding.size(0), 1, 1, padding.size(1)});
  at::Tensor x = at::dropout(x_in, dropout, is_training());
  for (const auto& block : *blocks) x = block->as<T5BlockImpl>()->forward(x, bias);
  return at::dropout(rms_norm(x, final_norm), dropout, is_training());
}

}  // namespace mmcl::models

#include "mmcl/models/transformer.h"

#include <cmath>
#include <limits>

#include <ATen/cpu/Utils.h>
#include <torch/nn/init.h>

#include "mmcl/core/error.h"


namespace mmcl::models {

at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& x) { return at::linear(x, layer->weight, layer->bias); }

namespace {

// Whether the CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX), as LibTorch detects them.
bool cpu_has_bf16_matrix() {
  static const bool has = [] {
    for (const auto& [name, value] : at::cpu::get_cpu_capabilities())
      if ((name == "avx512_bf16" || name == "amx_bf16") && value.isBool() && value.toBool()) return true;
    return false;
  }();
  return has;
}

}  // namespace

AttentionKernel pick_attention_kernel(const at::Tensor& q, const at::Tensor& k) {
  if (!q.device().is_cpu()) return AttentionKernel::fused;
  const int64_t l = q.size(-2), s = k.size(-2);
  const bool bf16_rate = q.scalar_type() == at::kBFloat16 && cpu_has_bf16_matrix();
  if (!bf16_rate && q.scalar_type() != at::kFloat) return AttentionKernel::fused;
  const int64_t limit = bf16_rate ? 512 : 128;
  const double bytes = static_cast<double>(q.numel() / q.size(-1)) * static_cast<double>(s) *
                       static_cast<double>(q.element_size());
  return l * s <= limit * limit && bytes <= 64.0 * 1024 * 1024 ? AttentionKernel::math : AttentionKernel::fused;
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                     AttentionKernel kernel) {
  if (kernel == AttentionKernel::automatic) kernel = pick_attention_kernel(q, k);
  // An additive mask in the queries' type (bfloat16 under autocast).
  const at::Tensor m = mask.defined() && mask.scalar_type() != q.scalar_type() ? mask.to(q.scalar_type()) : mask;
  if (kernel == AttentionKernel::fused) {
    c10::optional<at::Tensor> attn_mask;
    if (m.defined()) attn_mask = m;
    return at::scaled_dot_product_attention(q, k, v, attn_mask);
  }
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (m.defined()) scores = scores + m;
  return at::matmul(at::softmax(scores, -1), v);
}

SelfAttentionImpl::SelfAttentionImpl(int64_t width, int64_t heads_) : heads(heads_) {
  MMCL_CHECK(width % heads == 0, "attention width ", width, " is not a multiple of ", heads, " heads");
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  torch::NoGradGuard no_grad;
  out_proj->bias.zero_();
}

at::Tensor SelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const int64_t batch = x.size(0), length = x.size(1), width = x.size(2), head_dim = width / heads;
  // [B, L, 3D] -> 3 x [B, H, L, hd], views of the one projection: unbind's backward stacks the three
  // gradients in one pass (indexing would zero-fill and copy the full gradient once per view).
  const std::vector<at::Tensor> qkv = at::linear(x, in_proj_weight, in_proj_bias)
                                          .view({batch, length, 3, heads, head_dim})
                                          .permute({2, 0, 3, 1, 4})
                                          .unbind(0);
  const at::Tensor out = attention(qkv[0], qkv[1], qkv[2], mask, kernel);
  return linear(out_proj, out.transpose(1, 2).reshape({batch, length, width}));
}

MlpImpl::MlpImpl(int64_t width, int64_t hidden, Activation activation_) : activation(activation_) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
  c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  at::Tensor h = linear(c_fc, x);
  h = activation == Activation::kQuickGelu ? h * at::sigmoid(1.702 * h) : at::gelu(h);
  return linear(c_proj, h);
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(int64_t width, int64_t heads, double mlp_ratio,
                                                       Activation activation, double dropout_)
    : dropout(dropout_) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  attn = register_module("attn", SelfAttention(width, heads));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  mlp = register_module("mlp", Mlp(width, static_cast<int64_t>(width * mlp_ratio), activation));
}

at::Tensor ResidualAttentionBlockImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  if (dropout > 0 && is_training()) {
    const at::Tensor h = x + at::dropout(attn(ln_1(x), mask), dropout, /*train=*/true);
    return h + at::dropout(mlp(ln_2(h)), dropout, /*train=*/true);
  }
  at::Tensor h = x + attn(ln_1(x), mask);
  return h + mlp(ln_2(h));
}

TransformerImpl::TransformerImpl(int64_t width_, int64_t layers_, int64_t heads, double mlp_ratio,
                                 Activation activation, double dropout)
    : width(width_), layers(layers_) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i)
    resblocks->push_back(ResidualAttentionBlock(width, heads, mlp_ratio, activation, dropout));
}

at::Tensor TransformerImpl::forward(at::Tensor x, const at::Tensor& mask) {
  for (const auto& block : *resblocks) x = block->as<ResidualAttentionBlock>()->forward(x, mask);
  return x;
}

void TransformerImpl::init_parameters() {
  torch::NoGradGuard no_grad;
  const double w = static_cast<double>(width);
  const double proj_std = std::pow(w, -0.5) * std::pow(2.0 * static_cast<double>(layers), -0.5);
  const double attn_std = std::pow(w, -0.5);
  const double fc_std = std::pow(2.0 * w, -0.5);
  for (const auto& module : *resblocks) {
    auto* block = module->as<ResidualAttentionBlock>();
    block->attn->in_proj_weight.normal_(0, attn_std);
    block->attn->in_proj_bias.zero_();
    block->attn->out_proj->weight.normal_(0, proj_std);
    block->attn->out_proj->bias.zero_();
    block->mlp->c_fc->weight.normal_(0, fc_std);
    block->mlp->c_proj->weight.normal_(0, proj_std);
  }
}

at::Tensor causal_mask(int64_t length, const at::TensorOptions& options) {
  return at::full({length, length}, -std::numeric_limits<float>::infinity(), options).triu_(1);
}

}  // namespace mmcl::models

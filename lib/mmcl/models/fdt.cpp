#include "mmcl/models/fdt.h"

#include <cmath>
#include <limits>
#include <tuple>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/models/sparsemax.h"

namespace mmcl::models {

QueryMapImpl::QueryMapImpl(int64_t width, int64_t dim) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  fc_1 = register_module("fc_1", torch::nn::Linear(width, dim));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  fc_2 = register_module("fc_2", torch::nn::Linear(dim, dim));
}

at::Tensor QueryMapImpl::forward(const at::Tensor& x) { return fc_2(ln_2(at::gelu(fc_1(ln_1(x))))); }

FdtHeadImpl::FdtHeadImpl(const config::FdtConfig& c, int64_t image_width, int64_t text_width)
    : scale_(1.0 / std::sqrt(static_cast<double>(c.dim)) / c.temperature), softmax_(c.weighting == TokenWeighting::softmax), pooling_(c.pooling) {
  tokens = register_parameter("tokens", torch::randn({c.tokens, c.dim}));
  image_query = register_module("image_query", QueryMap(image_width, c.dim));
  text_query = register_module("text_query", QueryMap(text_width, c.dim));
}

TokenWeights FdtHeadImpl::weigh(QueryMap& query, const at::Tensor& features, const at::Tensor& valid) {
  const at::Tensor q = query(features);  // [B, L, d]
  TokenWeights out;
  out.relevance = at::matmul(q, tokens.t()) * scale_;  // [B, L, C]
  if (valid.defined())
    out.relevance = out.relevance.masked_fill(valid.logical_not().unsqueeze(-1), -std::numeric_limits<double>::infinity());
  at::Tensor pooled;  // [B, C]
  std::tie(pooled, out.peak) = out.relevance.max(1);
  if (pooling_ != TokenPooling::max) {
    // The official code's other poolings, over the valid positions only.
    const at::Tensor r = valid.defined() ? out.relevance.masked_fill(valid.logical_not().unsqueeze(-1), 0) : out.relevance;
    pooled = r.sum(1);
    if (pooling_ == TokenPooling::mean)
      pooled = pooled / (valid.defined() ? valid.sum(1, /*keepdim=*/true).clamp_min(1).to(pooled.scalar_type())
                                         : at::full({}, static_cast<double>(r.size(1)), pooled.options()));
  }
  out.weights = softmax_ ? at::softmax(pooled, -1) : sparsemax(pooled);
  out.embedding = l2_normalize(at::matmul(out.weights, tokens));
  return out;
}

TokenWeights FdtHeadImpl::image(const at::Tensor& features) { return weigh(image_query, features, {}); }

TokenWeights FdtHeadImpl::text(const at::Tensor& features, const at::Tensor& valid) {
  return weigh(text_query, features, valid);
}

FdtImpl::FdtImpl(const config::ModelConfig& c) : ClipImpl(c) {
  fdt = register_module("fdt", FdtHead(c.fdt, image_token_width(), c.text.width));
}

TokenWeights FdtImpl::image_weights(const at::Tensor& images) {
  // The patch outputs before ln_post (ViT), or the attention pool's input positions (ResNet).
  return fdt->image(image_tokens(images));
}

at::Tensor FdtImpl::text_positions(const at::Tensor& ids) {
  const at::Tensor end = ids.argmax(-1, /*keepdim=*/true);  // [B, 1]
  return at::arange(ids.size(1), ids.options()).unsqueeze(0).le(end);
}

TokenWeights FdtImpl::text_weights(const at::Tensor& ids) { return fdt->text(text_tokens(ids), text_positions(ids)); }

Embeddings FdtImpl::forward(const data::Batch& batch) {
  MMCL_CHECK(batch.image.defined() || batch.text.defined(), "FDT needs images or texts in a batch");
  Embeddings out;
  if (batch.image.defined()) out.by_modality["image"] = image_weights(batch.image).embedding;
  if (batch.text.defined()) out.by_modality["text"] = text_weights(batch.text).embedding;
  out.logit_scale = logit_scale.exp();
  out.logit_bias = logit_bias;
  return out;
}

}  // namespace mmcl::models

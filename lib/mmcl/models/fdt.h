#pragma once
// FDT: Chen et al., "Revisiting Multimodal Representation in Contrastive Learning: From Patch and Token
// Embeddings to Finite Discrete Tokens", CVPR 2023. A bank of C learned tokens c_i in R^d is shared by
// both modalities. The image tower's patch outputs (before ln_post, class token left out) and the text
// tower's token outputs (after ln_final, before the projection) become queries q_j through a map
// LN -> Linear -> GELU -> LN -> Linear. Token i's relevance to a sample is r_i = max_j <q_j, c_i> / sqrt(d) / tau,
// the maximum over its patches or over its real text tokens (start, words, end: positions after the end
// token are padding and are left out of the maximum, as if their relevance were -inf). The weights
// w = sparsemax(r) (or softmax) mix the bank, f = sum_i w_i c_i, and f / ||f|| replaces CLIP's projected
// embedding in the loss and in every evaluation. The towers keep open_clip's names, so CLIP weights load
// into them; the FDT parts live under "fdt.".

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "mmcl/models/clip.h"

namespace mmcl::models {

// LN -> Linear -> GELU -> LN -> Linear, from the tower width to the token dimension.
class QueryMapImpl : public torch::nn::Module {
 public:
  QueryMapImpl(int64_t width, int64_t dim);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  torch::nn::Linear fc_1{nullptr}, fc_2{nullptr};
};
TORCH_MODULE(QueryMap);

struct TokenWeights {
  at::Tensor relevance;  // [B, L, C]: <q_j, c_i> / sqrt(d) / tau per position, -inf at padding
  at::Tensor peak;       // [B, C]: the position where each token's relevance is largest (int64)
  at::Tensor weights;    // [B, C]: sparsemax (or softmax) of the relevance pooled over positions (max, sum, mean)
  at::Tensor embedding;  // [B, d]: sum_i w_i c_i, L2-normalised
};

class FdtHeadImpl : public torch::nn::Module {
 public:
  FdtHeadImpl(const config::FdtConfig& config, int64_t image_width, int64_t text_width);
  // features [B, L, width]; valid [B, L] bool (undefined: every position counts).
  TokenWeights image(const at::Tensor& features);
  TokenWeights text(const at::Tensor& features, const at::Tensor& valid);

  at::Tensor tokens;  // [C, d]
  QueryMap image_query{nullptr}, text_query{nullptr};

 private:
  TokenWeights weigh(QueryMap& query, const at::Tensor& features, const at::Tensor& valid);
  double scale_;   // 1 / sqrt(d) / tau_fdt
  bool softmax_;   // weighting softmax (else sparsemax)
  TokenPooling pooling_;
};
TORCH_MODULE(FdtHead);

class FdtImpl : public ClipImpl {
 public:
  explicit FdtImpl(const config::ModelConfig& config);

  TokenWeights image_weights(const at::Tensor& images);
  TokenWeights text_weights(const at::Tensor& ids);
  // [B, L] bool: the positions up to and including each row's end token (the largest id).
  static at::Tensor text_positions(const at::Tensor& ids);

  Embeddings forward(const data::Batch& batch) override;
  int64_t embedding_dim() const override { return model_config().fdt.dim; }
  bool may_start_fresh(const std::string& name) const override { return name.rfind("fdt.", 0) == 0; }

  FdtHead fdt{nullptr};
};

}  // namespace mmcl::models

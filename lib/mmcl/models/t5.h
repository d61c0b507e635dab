#pragma once
// The T5 encoder as VATT's official code uses it for text (Raffel et al. 2020, "Exploring the Limits of
// Transfer Learning with a Unified Text-to-Text Transformer"): pre-norm blocks of
//   x + Dropout(o(Attention(RMSNorm(x))))  with q, k, v, o without biases, scores q k^T (no 1/sqrt(d)
//     scaling) plus a learned relative position bias per head, computed once and shared by all layers;
//   x + Dropout(wo(Dropout(GELU(wi(LayerNorm(x))))))  without biases;
// then a final RMS norm. There are no absolute positions: a token's place enters only through the bias.
// The bias of key j for query i is a learned scalar per head for the bucket of j - i: half of the buckets
// for each direction, the first half of those one per distance, the rest logarithmically spaced up to
// max_distance (beyond which distances share the last bucket).

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace mmcl::models {

// T5's bidirectional bucket of each relative position (key - query), elementwise on an int64 tensor.
at::Tensor relative_position_bucket(const at::Tensor& relative, int64_t buckets, int64_t max_distance);

// y = weight * x / sqrt(mean(x^2) + eps) over the last dimension (T5's layer norm: no mean, no bias).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps = 1e-6);

class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(int64_t width, int64_t heads, int64_t mlp, double dropout);
  // x [N, L, d]; bias [1 or N, heads, L, L] additive (relative positions plus -inf at padded keys).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& bias);

  at::Tensor attn_norm;  // [d], the RMS norm before attention
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  torch::nn::LayerNorm mlp_norm{nullptr};
  torch::nn::Linear wi{nullptr}, wo{nullptr};
  int64_t heads;
  double dropout;
};
TORCH_MODULE(T5Block);

class T5EncoderImpl : public torch::nn::Module {
 public:
  T5EncoderImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio, int64_t buckets, int64_t max_distance,
                double dropout = 0);
  // x [N, L, d]; padding [N, L] bool (true: a padded token, never attended to) or undefined. -> [N, L, d]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& padding = {});
  // The shared relative position bias [1, heads, L, L] for length L.
  at::Tensor position_bias(int64_t length) const;

  torch::nn::Embedding relative_attention_bias{nullptr};  // [buckets, heads]
  torch::nn::ModuleList blocks{nullptr};
  at::Tensor final_norm;  // [d]
  int64_t buckets, max_distance;
  double dropout;
};
TORCH_MODULE(T5Encoder);

}  // namespace mmcl::models

#pragma once
// Pre-LN transformer blocks with open_clip's parameter names, so OpenAI / OpenCLIP weights map one
// to one: attn.{in_proj_weight,in_proj_bias,out_proj}, ln_1, ln_2, mlp.{c_fc,c_proj}.
// Vaswani et al. 2017, "Attention Is All You Need"; the pre-LN arrangement of Radford et al. 2021.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace mmcl::models {

enum class Activation { kGelu, kQuickGelu };

// Multi-head self-attention with a fused input projection (one [3D, D] matrix for q, k, v).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t width, int64_t heads);
  // x: [B, L, D]; mask: undefined or an additive float mask broadcastable to the scores [B, heads, L, L]
  // (-inf where attention is barred): an [L, L] causal mask, or a [B, 1, 1, L] key-padding mask. Every
  // query must keep at least one key.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  int64_t heads;
};
TORCH_MODULE(SelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, int64_t hidden, Activation activation);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
  Activation activation;
};
TORCH_MODULE(Mlp);

class ResidualAttentionBlockImpl : public torch::nn::Module {
 public:
  ResidualAttentionBlockImpl(int64_t width, int64_t heads, double mlp_ratio, Activation activation);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio, Activation activation);
  at::Tensor forward(at::Tensor x, const at::Tensor& mask = {});
  // open_clip's initialisation (std width^-1/2 for attention, (2 width)^-1/2 for c_fc, and
  // width^-1/2 (2 layers)^-1/2 for the output projections; attention biases zero).
  void init_parameters();

  torch::nn::ModuleList resblocks{nullptr};
  int64_t width, layers;
};
TORCH_MODULE(Transformer);

// [L, L] additive mask with -inf above the diagonal: token i attends to tokens 0..i.
at::Tensor causal_mask(int64_t length, const at::TensorOptions& options);

}  // namespace mmcl::models

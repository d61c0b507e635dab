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

// y = x W^T + b through ATen's linear, which folds a contiguous [..., in] input into one matrix product
// with the bias fused (addmm). torch::nn::Linear's own forward (the C++ functional) runs a matrix product
// and a separate bias pass for inputs of more than two dimensions.
at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& x);

enum class Activation { kGelu, kQuickGelu };

// How attention is computed. fused: ATen's scaled_dot_product_attention (flash attention on the CPU and
// on CUDA, memory-efficient or cuDNN attention on CUDA), O(L) memory. math: two batched matrix products
// and a softmax, the [B, H, L, S] probabilities kept for the backward pass. automatic: math on the CPU
// where it is the faster and its memory is small (pick_attention_kernel), fused otherwise.
enum class AttentionKernel { automatic, fused, math };

// softmax(q k^T / sqrt(E) + mask) v for q [B, H, L, E] and k, v [B, H, S, E]; mask undefined or an
// additive float mask broadcastable to [B, H, L, S] (-inf where attention is barred), in any float type.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                     AttentionKernel kernel = AttentionKernel::automatic);
// The kernel `automatic` runs for these queries and keys: math on the CPU when the scores are short
// (L S <= 128^2 in float32; <= 512^2 in bfloat16 on a CPU with bfloat16 matrix instructions, where the
// products run at the bfloat16 rate) and the probabilities take at most 64 MiB; fused everywhere else.
// On LibTorch 2.11 and 2 AVX-512 cores (forward + backward, docs/BENCHMARKS.md): float32 1.4x the flash
// kernel at L = 50..77, even at 128, slower beyond; bfloat16 2-4x the flash kernel up to L = 512.
AttentionKernel pick_attention_kernel(const at::Tensor& q, const at::Tensor& k);

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
  AttentionKernel kernel = AttentionKernel::automatic;
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
  // `dropout`: applied to the attention's and the MLP's outputs before each residual sum, while training.
  ResidualAttentionBlockImpl(int64_t width, int64_t heads, double mlp_ratio, Activation activation, double dropout = 0);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention attn{nullptr};
  Mlp mlp{nullptr};
  double dropout = 0;
};
TORCH_MODULE(ResidualAttentionBlock);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio, Activation activation,
                  double dropout = 0);
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

#pragma once
// Multi-head self-attention read straight out of the fused q/k/v projection, for the CPU.
//
// LibTorch 1.13 has no fused attention: the composite path (matmul, softmax, matmul) copies q, k and v
// out of the projection and runs each batched product as a loop of one tiny GEMM per (sample, head)
// behind a dispatcher call each, about a fifth of a ViT-S/32 training step on 2 cores. This kernel
// instead calls BLAS once per (sample, head) and product on the projection's memory in place (leading
// dimension 3D), writes the heads side by side ready for the output projection, runs the (sample,
// head) pairs in parallel, and has its own backward pass (ViT-S/32 training about 1.1x faster):
//   S = scale Q K^T + mask, P = softmax(S), O = P V
//   dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = scale dS K, dK = scale dS^T Q
// LibTorch 2.x has scaled_dot_product_attention, which the model uses there instead.

#include <ATen/core/Tensor.h>

namespace mmcl::models {

// Whether fused_self_attention can run these inputs: a CPU float32/float64 qkv of [B, L, 3D], a mask
// that is undefined, [L, L] or [B, 1, 1, L], and a BLAS (sgemm_/dgemm_) loaded in the process.
// MMCL_NO_FUSED_ATTENTION=1 in the environment turns it off (for comparisons).
bool fused_attention_supported(const at::Tensor& qkv, const at::Tensor& mask);

// qkv: [B, L, 3D], q, k and v side by side, each `heads` heads of D / heads; mask: additive (-inf where
// barred), undefined, [L, L] or [B, 1, 1, L]; every query must keep one key. Returns [B, L, D], the
// heads side by side; differentiable with respect to qkv.
at::Tensor fused_self_attention(const at::Tensor& qkv, int64_t heads, const at::Tensor& mask);

// softmax(q k^T / sqrt(hd) + mask) v from separate ops (q, k, v: [B, H, L, hd]): the reference the
// fused kernel is tested against, and LibTorch 1.13's path for inputs it does not take (bfloat16).
at::Tensor composite_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);

}  // namespace mmcl::models

// The fused CPU self-attention against the composite one (matmul, softmax, matmul under autograd):
// outputs and gradients, without a mask, with a causal mask and with a key-padding mask.

#include <limits>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "mmcl/models/attention.h"
#include "mmcl/models/transformer.h"
#include "util.h"

using namespace mmcl;

namespace {

// The composite path on the same projection: [B, L, 3D] -> q, k, v [B, H, L, hd] -> [B, L, D].
at::Tensor reference(const at::Tensor& qkv, int64_t heads, const at::Tensor& mask) {
  const int64_t B = qkv.size(0), L = qkv.size(1), D = qkv.size(2) / 3;
  const at::Tensor split = qkv.view({B, L, 3, heads, D / heads}).permute({2, 0, 3, 1, 4});
  return models::composite_attention(split[0], split[1], split[2], mask).transpose(1, 2).reshape({B, L, D});
}

struct Result {
  at::Tensor out, grad;
};
Result run(bool fused, const at::Tensor& input, int64_t heads, const at::Tensor& mask, const at::Tensor& upstream) {
  const at::Tensor qkv = input.detach().clone().requires_grad_();
  const at::Tensor out = fused ? models::fused_self_attention(qkv, heads, mask) : reference(qkv, heads, mask);
  (out * upstream).sum().backward();
  return {out.detach(), qkv.grad()};
}

at::Tensor padding_mask(int64_t B, int64_t L, at::ScalarType type) {
  // Sample b keeps its first L - b keys.
  at::Tensor m = at::zeros({B, 1, 1, L}, type);
  for (int64_t b = 0; b < B; ++b) m[b].narrow(-1, L - b, b).fill_(-std::numeric_limits<double>::infinity());
  return m;
}

}  // namespace

CATCH_TEST_CASE("fused self-attention equals the composite one, forward and backward", "[models]") {
  torch::manual_seed(11);
  const int64_t B = 3, L = 7, heads = 3, D = 12;
  for (const auto type : {at::kDouble, at::kFloat}) {
    const at::Tensor qkv = at::randn({B, L, 3 * D}, type);
    const at::Tensor upstream = at::randn({B, L, D}, type);
    const double tol = type == at::kDouble ? 1e-12 : 2e-5;
    const std::pair<const char*, at::Tensor> masks[] = {
        {"none", at::Tensor()},
        {"causal", models::causal_mask(L, at::TensorOptions().dtype(type))},
        {"key padding", padding_mask(B, L, type)}};
    for (const auto& [name, mask] : masks) {
      CATCH_INFO((type == at::kDouble ? "double, " : "float, ") << name << " mask");
      CATCH_REQUIRE(models::fused_attention_supported(qkv, mask));
      const Result fused = run(true, qkv, heads, mask, upstream);
      const Result composite = run(false, qkv, heads, mask, upstream);
      CATCH_CHECK(fused.out.sizes() == at::IntArrayRef({B, L, D}));
      CATCH_CHECK(at::allclose(fused.out, composite.out, tol, tol));
      CATCH_CHECK(at::allclose(fused.grad, composite.grad, tol, tol));
      CATCH_CHECK(fused.grad.abs().sum().item<double>() > 0);
    }
  }
}

CATCH_TEST_CASE("fused self-attention in a ViT-sized layer, and the inputs it declines", "[models]") {
  torch::manual_seed(12);
  // 50 tokens, 6 heads of 64 (ViT-S/32's vision layer), batch 4.
  const at::Tensor qkv = at::randn({4, 50, 3 * 384});
  const at::Tensor upstream = at::randn({4, 50, 384});
  const Result fused = run(true, qkv, 6, {}, upstream);
  const Result composite = run(false, qkv, 6, {}, upstream);
  CATCH_CHECK(at::allclose(fused.out, composite.out, 1e-5, 1e-5));
  CATCH_CHECK(at::allclose(fused.grad, composite.grad, 1e-4, 1e-5));

  CATCH_CHECK(!models::fused_attention_supported(qkv.to(at::kBFloat16), {}));        // bfloat16: composite
  CATCH_CHECK(!models::fused_attention_supported(qkv.transpose(0, 1), {}));          // not contiguous
  CATCH_CHECK(!models::fused_attention_supported(qkv, at::zeros({4, 6, 50, 50})));   // per-head masks
  CATCH_CHECK(!models::fused_attention_supported(qkv, at::zeros({49, 49})));         // wrong length
}

// Self-attention through both kernels (at::scaled_dot_product_attention and the math form) against
// softmax(QK^T / sqrt(d) + mask) V written out in float64, with no mask, the text tower's causal mask and
// a key-padding mask: outputs and gradients, in double and in float, and under bfloat16 autocast; and
// which kernel `automatic` picks.
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmcl/models/transformer.h"
#include "mmcl/core/precision.h"
#include "fixtures.h"

namespace {

using mmcl::models::AttentionKernel;
using mmcl::models::SelfAttention;

const AttentionKernel kKernels[] = {AttentionKernel::fused, AttentionKernel::math};
const char* kernel_name(AttentionKernel k) { return k == AttentionKernel::fused ? "fused" : "math"; }

// Key padding: sample i keeps its first (L - i) keys.
at::Tensor padding_mask(int64_t batch, int64_t length, at::ScalarType type) {
  at::Tensor m = at::zeros({batch, 1, 1, length}, at::TensorOptions().dtype(type));
  for (int64_t i = 0; i < batch; ++i)
    if (i > 0) m[i].narrow(-1, length - i, i).fill_(-std::numeric_limits<double>::infinity());
  return m;
}

void compare(at::ScalarType type, double tolerance, AttentionKernel kernel) {
  torch::manual_seed(3);
  const int64_t batch = 3, length = 7, width = 16, heads = 4;
  SelfAttention attn(width, heads);
  attn->to(type);
  attn->kernel = kernel;
  for (const char* which : {"none", "causal", "padding"}) {
    CATCH_CAPTURE(which, c10::toString(type), kernel_name(kernel));
    at::Tensor mask;
    if (std::string(which) == "causal") mask = mmcl::models::causal_mask(length, at::TensorOptions().dtype(type));
    if (std::string(which) == "padding") mask = padding_mask(batch, length, type);
    const at::Tensor x = at::randn({batch, length, width}, at::TensorOptions().dtype(type)).requires_grad_(true);
    const at::Tensor x64 = x.detach().to(at::kDouble).requires_grad_(true);
    const at::Tensor out = attn->forward(x, mask);
    SelfAttention attn64(width, heads);
    {
      torch::NoGradGuard no_grad;
      auto src = attn->parameters(), dst = attn64->parameters();
      for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
    }
    attn64->to(at::kDouble);
    const at::Tensor expected = mmcl::test::attention_reference(*attn64, x64, mask);
    CATCH_CHECK(out.scalar_type() == type);
    CATCH_CHECK((out.to(at::kDouble) - expected).abs().max().item<double>() < tolerance);
    // Gradients with respect to the input and the projection weights.
    const at::Tensor w = at::randn_like(expected);
    (out * w.to(type)).sum().backward();
    (expected * w).sum().backward();
    CATCH_CHECK((x.grad().to(at::kDouble) - x64.grad()).abs().max().item<double>() < tolerance);
    CATCH_CHECK(
        (attn->in_proj_weight.grad().to(at::kDouble) - attn64->in_proj_weight.grad()).abs().max().item<double>() <
        tolerance * 10);
    attn->zero_grad();
  }
}

}  // namespace

CATCH_TEST_CASE("attention matches the float64 formula with causal and key-padding masks", "[attention]") {
  for (const AttentionKernel kernel : kKernels) {
    compare(at::kDouble, 1e-12, kernel);
    compare(at::kFloat, 2e-5, kernel);
  }
}

CATCH_TEST_CASE("the causal mask hides later tokens and padding hides padded keys", "[attention]") {
  for (const AttentionKernel kernel : kKernels) {
    CATCH_CAPTURE(kernel_name(kernel));
    torch::manual_seed(5);
    SelfAttention attn(8, 2);
    attn->kernel = kernel;
    const at::Tensor x = at::randn({2, 5, 8});
    // Causal: changing token 4 leaves the outputs of tokens 0..3 as they were.
    const at::Tensor mask = mmcl::models::causal_mask(5, {});
    at::Tensor y = x.clone();
    y[0][4].add_(1.0);
    const at::Tensor a = attn->forward(x, mask), b = attn->forward(y, mask);
    CATCH_CHECK(at::allclose(a[0].narrow(0, 0, 4), b[0].narrow(0, 0, 4), 1e-6, 1e-6));
    CATCH_CHECK(!at::allclose(a[0][4], b[0][4], 1e-3, 1e-3));
    // Padding: sample 1 keeps 4 keys, so changing its token 4 changes no other token's output.
    const at::Tensor pad = padding_mask(2, 5, at::kFloat);
    at::Tensor z = x.clone();
    z[1][4].add_(1.0);
    const at::Tensor c = attn->forward(x, pad), d = attn->forward(z, pad);
    CATCH_CHECK(at::allclose(c[1].narrow(0, 0, 4), d[1].narrow(0, 0, 4), 1e-6, 1e-6));
  }
}

CATCH_TEST_CASE("attention under bfloat16 autocast follows float32 and takes a float mask", "[attention][precision]") {
  for (const AttentionKernel kernel : kKernels) {
    CATCH_CAPTURE(kernel_name(kernel));
    torch::manual_seed(7);
    SelfAttention attn(32, 4);
    attn->kernel = kernel;
    const at::Tensor x = at::randn({2, 9, 32});
    const at::Tensor mask = mmcl::models::causal_mask(9, {});
    const at::Tensor fp32 = attn->forward(x, mask);
    mmcl::Precision amp = mmcl::resolve_precision(mmcl::PrecisionMode::amp_bf16, c10::Device("cpu"));
    at::Tensor low;
    {
      mmcl::AutocastGuard guard(amp, c10::Device("cpu"));
      low = attn->forward(x, mask);
    }
    CATCH_CHECK(low.scalar_type() == at::kBFloat16);
    const double err = (low.to(at::kFloat) - fp32).abs().max().item<double>();
    const double scale = fp32.abs().max().item<double>();
    CATCH_CHECK(err < 0.05 * scale);
    CATCH_CHECK(err > 0);  // it did run in bfloat16
  }
}

CATCH_TEST_CASE("automatic attention: the math form for short float32 scores on the CPU, the fused kernel otherwise",
                "[attention]") {
  using mmcl::models::pick_attention_kernel;
  auto qk = [](int64_t batch, int64_t heads, int64_t length, at::ScalarType type) {
    return at::empty({batch, heads, length, 64}, at::TensorOptions().dtype(type));
  };
  const at::Tensor text = qk(64, 6, 77, at::kFloat);
  CATCH_CHECK(pick_attention_kernel(text, text) == AttentionKernel::math);
  // 128^2 scores is the float32 limit; 129 keys pass it.
  CATCH_CHECK(pick_attention_kernel(qk(2, 2, 128, at::kFloat), qk(2, 2, 128, at::kFloat)) == AttentionKernel::math);
  CATCH_CHECK(pick_attention_kernel(qk(2, 2, 128, at::kFloat), qk(2, 2, 129, at::kFloat)) == AttentionKernel::fused);
  const at::Tensor long_seq = qk(2, 2, 197, at::kFloat);
  CATCH_CHECK(pick_attention_kernel(long_seq, long_seq) == AttentionKernel::fused);
  // The probabilities stay under 64 MiB: 4 bytes x 1024 x 64 x 128 x 128 is 4 GiB.
  const at::Tensor big_batch = qk(1024, 64, 128, at::kFloat);
  CATCH_CHECK(pick_attention_kernel(big_batch, big_batch) == AttentionKernel::fused);
  // Float64 and float16 always go to the fused kernel.
  CATCH_CHECK(pick_attention_kernel(qk(2, 2, 7, at::kDouble), qk(2, 2, 7, at::kDouble)) == AttentionKernel::fused);
  CATCH_CHECK(pick_attention_kernel(qk(2, 2, 7, at::kHalf), qk(2, 2, 7, at::kHalf)) == AttentionKernel::fused);
  // Automatic gives what the kernel it picks gives.
  torch::manual_seed(11);
  const at::Tensor q = at::randn({2, 3, 10, 8}), k = at::randn({2, 3, 10, 8}), v = at::randn({2, 3, 10, 8});
  const at::Tensor mask = mmcl::models::causal_mask(10, {});
  CATCH_CHECK(at::equal(mmcl::models::attention(q, k, v, mask),
                        mmcl::models::attention(q, k, v, mask, pick_attention_kernel(q, k))));
  CATCH_CHECK(at::allclose(mmcl::models::attention(q, k, v, mask, AttentionKernel::math),
                           mmcl::models::attention(q, k, v, mask, AttentionKernel::fused), 1e-5, 1e-6));
}

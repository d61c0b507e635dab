// The CUDA paths, run where a GPU is visible (scripts/gpu-check.sh runs "[cuda]"); elsewhere each test
// says it was skipped. Attention kernels, fused AdamW, amp_fp16 with loss scaling and amp_bf16 on the
// GPU against float32 and CPU references; pinned batches copied without blocking.

#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/nn/module.h>

#include "mmcl/core/runtime.h"
#include "mmcl/data/batch.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"
#include "mmcl/models/transformer.h"
#include "mmcl/train/optim.h"
#include "mmcl/core/precision.h"
#include "mmcl/train/grad_scaler.h"
#include "mmcl/train/trainer.h"
#include "fixtures.h"

using namespace mmcl;

namespace {

bool have_gpu() {
  if (torch::cuda::is_available()) return true;
  CATCH_WARN("SKIPPED: no CUDA device visible (" << cuda_description() << ")");
  return false;
}

const c10::Device kGpu("cuda:0");

// float32 matrix products in full precision, so comparisons with float64 are about the kernels.
struct NoTf32 {
  bool was = at::globalContext().allowTF32CuBLAS();
  NoTf32() { at::globalContext().setAllowTF32CuBLAS(false); }
  ~NoTf32() { at::globalContext().setAllowTF32CuBLAS(was); }
};

}  // namespace

CATCH_TEST_CASE("CUDA attention (flash / memory-efficient / math) matches the float64 formula", "[cuda]") {
  if (!have_gpu()) return;
  NoTf32 exact;
  torch::manual_seed(1);
  const int64_t batch = 4, length = 77, width = 64, heads = 8;
  models::SelfAttention attn(width, heads);
  const at::Tensor x = at::randn({batch, length, width});
  at::Tensor padding = at::zeros({batch, 1, 1, length});
  for (int64_t i = 1; i < batch; ++i) padding[i].narrow(-1, length - 5 * i, 5 * i).fill_(-std::numeric_limits<float>::infinity());
  for (int which = 0; which < 3; ++which) {
    CATCH_CAPTURE(which);
    const at::Tensor mask = which == 0 ? at::Tensor() : which == 1 ? models::causal_mask(length, {}) : padding;
    // Reference: the formula in float64 on the CPU.
    at::Tensor expected;
    {
      torch::NoGradGuard no_grad;
      expected = test::attention_reference(*attn, x, mask);
    }
    attn->to(kGpu);
    const at::Tensor got = attn->forward(x.to(kGpu), mask.defined() ? mask.to(kGpu) : mask).cpu().to(at::kDouble);
    attn->to(c10::Device("cpu"));
    CATCH_CHECK((got - expected).abs().max().item<double>() < 1e-4);
  }
}

CATCH_TEST_CASE("fused AdamW on CUDA takes LibTorch's AdamW steps on the CPU", "[cuda]") {
  if (!have_gpu()) return;
  torch::manual_seed(2);
  std::vector<at::Tensor> cpu_params = {at::randn({64, 32}).requires_grad_(true), at::randn({32}).requires_grad_(true)};
  std::vector<at::Tensor> gpu_params;
  for (const auto& p : cpu_params) gpu_params.push_back(p.detach().to(kGpu).requires_grad_(true));
  auto options = torch::optim::AdamWOptions(1e-2).betas(std::make_tuple(0.9, 0.98)).eps(1e-6).weight_decay(0.2);
  torch::optim::AdamW plain(cpu_params, options);
  train::FusedAdamW fused(gpu_params, options);
  for (int step = 0; step < 5; ++step) {
    for (size_t i = 0; i < cpu_params.size(); ++i) {
      const at::Tensor g = at::randn(cpu_params[i].sizes());
      cpu_params[i].mutable_grad() = g;
      gpu_params[i].mutable_grad() = g.to(kGpu);
    }
    plain.step();
    fused.step();
  }
  for (size_t i = 0; i < cpu_params.size(); ++i)
    CATCH_CHECK((gpu_params[i].detach().cpu() - cpu_params[i].detach()).abs().max().item<double>() < 1e-5);
}

CATCH_TEST_CASE("amp_fp16 and amp_bf16 on CUDA track fp32, with float32 weights and a loss scale", "[cuda]") {
  if (!have_gpu()) return;
  NoTf32 exact;
  const std::vector<double> fp32 = test::learning_curve("fp32", kGpu, 1.0).losses;
  for (const char* name : {"amp_bf16", "amp_fp16"}) {
    CATCH_CAPTURE(name);
    const test::Curve curve = test::learning_curve(name, kGpu, 1.0);
    const std::vector<double>& amp = curve.losses;
    const models::ModelPtr& model = curve.model;
    const double scale = curve.loss_scale;
    CATCH_CHECK(amp.back() < 0.25 * amp.front());  // it learns
    double worst = 0;
    for (size_t i = 0; i < fp32.size(); ++i) {
      CATCH_CHECK(std::isfinite(amp[i]));
      worst = std::max(worst, std::abs(amp[i] - fp32[i]));
    }
    CATCH_INFO(name << ": largest difference from fp32 " << worst << ", final loss scale " << scale);
    CATCH_CHECK(worst > 1e-6);  // autocast ran in the low precision
    if (std::string(name) == "amp_bf16") {
      // No loss scale: every step is taken, and the curve stays within the CPU test's tolerance.
      for (size_t i = 0; i < fp32.size(); ++i) CATCH_CHECK(std::abs(amp[i] - fp32[i]) <= 0.15 + 0.1 * fp32[i]);
    } else {
      // The scaler starts at 2^16 and skips the first steps whose float16 gradients overflow (halving
      // the scale each time), as torch.cuda.amp.GradScaler does: the curve runs a few steps behind
      // fp32's, so only the end is compared, and at most 8 steps may have been skipped.
      CATCH_CHECK(scale >= 65536.0 / 256);
      CATCH_CHECK(std::abs(amp.back() - fp32.back()) <= 0.1 + 0.2 * fp32.back());
    }
    for (const auto& p : model->parameters()) CATCH_CHECK(p.scalar_type() == at::kFloat);
  }
  // The scaler itself: a float16 overflow skips the step and halves the scale.
  train::GradScaler scaler(true, 65536.0 * 65536.0);
  at::Tensor w = at::ones({4}, at::TensorOptions().dtype(at::kHalf).device(kGpu)).requires_grad_(true);
  scaler.scale_loss((w * 1e4).sum()).backward();  // 4e4 x 2^32 overflows float16
  const double before = scaler.scale();
  CATCH_CHECK(!scaler.unscale({w}));
  scaler.update(false);
  CATCH_CHECK(scaler.scale() == before / 2);
}

CATCH_TEST_CASE("a pinned batch reaches the GPU intact through a non-blocking copy", "[cuda]") {
  if (!have_gpu()) return;
  const data::Batch batch = test::micro_clip_batch(8);
  const data::Batch pinned = batch.pin_memory();
  CATCH_CHECK(pinned.image.is_pinned());
  CATCH_CHECK(pinned.text.is_pinned());
  const data::Batch on_gpu = pinned.to(kGpu, /*non_blocking=*/true);
  torch::cuda::synchronize();
  CATCH_CHECK(on_gpu.image.device().is_cuda());
  CATCH_CHECK(at::equal(on_gpu.image.cpu(), batch.image));
  CATCH_CHECK(at::equal(on_gpu.text.cpu(), batch.text));
  CATCH_CHECK(gpu_peak_memory_mb(kGpu) > 0);
}

#pragma once
// Numeric precision of training and inference (runtime.precision), with open_clip's meanings:
//   fp32      everything in float32
//   bf16/fp16 "pure" low precision: the model's parameters (hence the optimiser state) and float inputs
//             in bfloat16 / float16
//   amp_bf16  autocast regions (forward pass and loss) in bfloat16; parameters, gradients and optimiser
//             state stay float32 (CPU and CUDA)
//   amp_fp16  autocast in float16 with dynamic loss scaling (CUDA only: CPU autocast has no float16)
// Losses compute their logits and softmax in float32 whatever the embeddings' type.

#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/module.h>

namespace mmcl::train {

// Moves `module` to `device` and its floating-point parameters and buffers to `dtype`; integer buffers
// (BatchNorm's num_batches_tracked) keep their type. LibTorch's Module::to(device, dtype) casts every
// buffer, and a num_batches_tracked cast that way was saved as 4 bytes under an int64 header, which no
// checkpoint reader accepts.
void place_module(torch::nn::Module& module, const c10::Device& device, c10::ScalarType dtype);

struct Precision {
  std::string name = "fp32";
  bool autocast = false;                 // amp_*: run forward and loss under autocast
  c10::ScalarType low = c10::kFloat;     // the autocast (amp_*) or parameter (bf16/fp16) type
  bool scale_loss = false;               // amp_fp16: dynamic loss scaling
  c10::ScalarType param_dtype() const;   // the model's parameter type
};

// Throws ConfigError (naming runtime.precision) for an unknown name or one the device cannot run.
Precision resolve_precision(const std::string& name, const c10::Device& device);

// RAII: autocast on `device` with the precision's type for the guard's lifetime (nothing unless
// autocast). Restores the previous state, so guards nest.
class AutocastGuard {
 public:
  AutocastGuard(const Precision& precision, const c10::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::kFloat;
};

// Float inputs (images, clips, waveforms) cast to the model's parameter type for pure bf16/fp16.
at::Tensor to_param_dtype(const at::Tensor& x, const Precision& precision);

// Dynamic loss scaling for float16 (as torch.cuda.amp.GradScaler): the loss is multiplied by a scale
// before backward; before the optimiser step the gradients are divided by it and checked; a step with
// an inf/NaN gradient is skipped and the scale halved; after `growth_interval` good steps it doubles.
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  at::Tensor scale_loss(const at::Tensor& loss) const;
  // Unscales the gradients of `params` in place; returns false when one is not finite (skip the step).
  bool unscale(const std::vector<at::Tensor>& params);
  // After each step attempt: whether its gradients were finite.
  void update(bool finite);
  int64_t skipped() const { return skipped_; }
  // The state a checkpoint keeps, so a resumed run goes on with the same scale.
  int64_t good_steps() const { return good_steps_; }
  void restore(double scale, int64_t good_steps);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, good_steps_ = 0, skipped_ = 0;
};

}  // namespace mmcl::train

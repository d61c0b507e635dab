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

#include "mmcl/core/choices.h"

namespace mmcl {

// Moves `module` to `device` and its floating-point parameters and buffers to `dtype`; integer buffers
// (BatchNorm's num_batches_tracked) keep their type. LibTorch's Module::to(device, dtype) casts every
// buffer, and a num_batches_tracked cast that way was saved as 4 bytes under an int64 header, which no
// checkpoint reader accepts.
void place_module(torch::nn::Module& module, const c10::Device& device, c10::ScalarType dtype);

struct Precision {
  PrecisionMode mode = PrecisionMode::fp32;
  bool autocast = false;                 // amp_*: run forward and loss under autocast
  c10::ScalarType low = c10::kFloat;     // the autocast (amp_*) or parameter (bf16/fp16) type
  bool scale_loss = false;               // amp_fp16: dynamic loss scaling
  c10::ScalarType param_dtype() const;   // the model's parameter type
  std::string name() const { return name_of(mode); }
};

// Throws ConfigError (naming runtime.precision) for a precision the device cannot run
// (precision_unsupported in choices.h: the one home of that rule).
Precision resolve_precision(PrecisionMode mode, const c10::Device& device);

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

}  // namespace mmcl

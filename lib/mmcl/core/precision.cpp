#include "mmcl/core/precision.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "mmcl/core/error.h"

namespace mmcl {

c10::ScalarType Precision::param_dtype() const { return autocast ? c10::kFloat : low; }

Precision resolve_precision(PrecisionMode mode, const c10::Device& device) {
  if (const auto why = precision_unsupported(mode, device.is_cuda())) throw ConfigError("runtime.precision: " + *why);
  Precision p;
  p.mode = mode;
  switch (mode) {
    case PrecisionMode::fp32: break;
    case PrecisionMode::bf16: p.low = c10::kBFloat16; break;
    case PrecisionMode::fp16: p.low = c10::kHalf; break;
    case PrecisionMode::amp_bf16:
      p.autocast = true;
      p.low = c10::kBFloat16;
      break;
    case PrecisionMode::amp_fp16:
      p.autocast = true;
      p.low = c10::kHalf;
      p.scale_loss = true;
      break;
  }
  return p;
}

AutocastGuard::AutocastGuard(const Precision& precision, const c10::Device& device) {
  if (!precision.autocast) return;
  active_ = true;
  cuda_ = device.is_cuda();
  const c10::DeviceType type = cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  was_enabled_ = at::autocast::is_autocast_enabled(type);
  was_dtype_ = at::autocast::get_autocast_dtype(type);
  at::autocast::set_autocast_enabled(type, true);
  at::autocast::set_autocast_dtype(type, precision.low);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Casts of the weights are cached for the region; leaving the outermost region drops them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  const c10::DeviceType type = cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  at::autocast::set_autocast_enabled(type, was_enabled_);
  at::autocast::set_autocast_dtype(type, was_dtype_);
}

void place_module(torch::nn::Module& module, const c10::Device& device, c10::ScalarType dtype) {
  module.to(device);
  torch::NoGradGuard no_grad;
  for (at::Tensor& p : module.parameters())
    if (p.is_floating_point() && p.scalar_type() != dtype) p.set_data(p.to(dtype));
  for (at::Tensor& b : module.buffers())
    if (b.is_floating_point() && b.scalar_type() != dtype) b.set_data(b.to(dtype));
}

at::Tensor to_param_dtype(const at::Tensor& x, const Precision& precision) {
  if (!x.defined() || !x.is_floating_point() || precision.autocast || precision.low == c10::kFloat) return x;
  return x.to(precision.low);
}

}  // namespace mmcl

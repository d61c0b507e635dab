#include "mmcl/train/precision.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "mmcl/core/error.h"

namespace mmcl::train {

c10::ScalarType Precision::param_dtype() const { return autocast ? c10::kFloat : low; }

Precision resolve_precision(const std::string& name, const c10::Device& device) {
  Precision p;
  p.name = name;
  if (name == "fp32") return p;
  if (name == "bf16" || name == "fp16") {
    p.low = name == "bf16" ? c10::kBFloat16 : c10::kHalf;
    return p;
  }
  if (name == "amp_bf16" || name == "amp_fp16") {
    p.autocast = true;
    p.low = name == "amp_bf16" ? c10::kBFloat16 : c10::kHalf;
    if (name == "amp_fp16") {
      if (!device.is_cuda())
        throw ConfigError("runtime.precision: amp_fp16 needs a CUDA device (CPU autocast runs bfloat16 only); "
                          "use amp_bf16 on CPU");
      p.scale_loss = true;
    }
    return p;
  }
  throw ConfigError(str_cat("runtime.precision: unknown precision \"", name, "\" (fp32, bf16, fp16, amp_bf16, amp_fp16)"));
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

GradScaler::GradScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(init_scale), growth_interval_(growth_interval) {}

at::Tensor GradScaler::scale_loss(const at::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool GradScaler::unscale(const std::vector<at::Tensor>& params) {
  if (!enabled_) return true;
  const double inverse = 1.0 / scale_;
  at::Tensor bad;  // on the gradients' device: one synchronisation for all of them
  for (const at::Tensor& p : params) {
    if (!p.grad().defined()) continue;
    at::Tensor g = p.grad();
    g.mul_(inverse);
    const at::Tensor b = at::isfinite(g).logical_not().any();
    bad = bad.defined() ? bad.logical_or(b) : b;
  }
  return !bad.defined() || !bad.item<bool>();
}

void GradScaler::restore(double scale, int64_t good_steps) {
  scale_ = scale;
  good_steps_ = good_steps;
}

void GradScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ /= 2;
    good_steps_ = 0;
    ++skipped_;
    return;
  }
  if (++good_steps_ >= growth_interval_) {
    scale_ *= 2;
    good_steps_ = 0;
  }
}

}  // namespace mmcl::train

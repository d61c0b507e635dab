#pragma once
// Dynamic loss scaling for amp_fp16 training (core/precision.h has the precisions themselves).

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmcl::train {

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

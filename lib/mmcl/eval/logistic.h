#pragma once
// L2-regularised multinomial logistic regression fitted with L-BFGS, and the CLIP paper's linear-probe
// protocol around it (Radford et al. 2021, Appendix A.3): fit on train features for a sweep of
// regularisation strengths, pick the strength by validation accuracy, report test accuracy.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmcl::eval {

struct LogisticModel {
  at::Tensor weight;  // [D, C]
  at::Tensor bias;    // [C]
  double l2 = 0;
  at::Tensor logits(const at::Tensor& x) const;
};

// Minimises mean cross-entropy(x W + b, y) + l2 / 2 * ||W||^2 (the bias is not penalised).
// x [N, D] float, y [N] in [0, classes). Multi-label: y [N, classes] in {0, 1} and one-vs-rest logistic
// regressions, sum over classes of mean binary cross-entropy + l2 / 2 * ||W||^2.
LogisticModel fit_logistic(const at::Tensor& x, const at::Tensor& y, int64_t classes, double l2,
                           int64_t max_iterations = 500);

// The loss fit_logistic minimises for labels y (class numbers [N], or multi-hot [N, C]), without the penalty.
at::Tensor probe_loss(const at::Tensor& logits, const at::Tensor& y);
// What chooses the strength: top-1 accuracy, or mAP for multi-hot labels.
double probe_score(const at::Tensor& logits, const at::Tensor& y);

struct ProbeResult {
  double l2 = 0;                   // the chosen strength
  double val_accuracy = 0;         // its validation score: top-1, or mAP for multi-label
  std::vector<double> sweep_l2, sweep_val_accuracy;
  LogisticModel model;             // refitted on train + val with the chosen strength
};

// Sweeps l2 over `grid` (default: 10^-8 .. 10^2, one value per decade), chooses by validation
// accuracy or mAP (ties: the stronger regularisation), then refits on train and validation together.
ProbeResult linear_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& val_x,
                         const at::Tensor& val_y, int64_t classes, std::vector<double> grid = {});

}  // namespace mmcl::eval

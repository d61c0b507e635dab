#include "mmcl/eval/logistic.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/optim/lbfgs.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/eval/metrics.h"

namespace mmcl::eval {

at::Tensor LogisticModel::logits(const at::Tensor& x) const { return at::addmm(bias, x.to(weight.dtype()), weight); }

LogisticModel fit_logistic(const at::Tensor& x_in, const at::Tensor& y_in, int64_t classes, double l2,
                           int64_t max_iterations) {
  MMCL_CHECK(x_in.dim() == 2 && (y_in.dim() == 1 || (y_in.dim() == 2 && y_in.size(1) == classes)) &&
                 x_in.size(0) == y_in.size(0) && x_in.size(0) > 0,
             "logistic regression: features [N, D] and labels [N] or [N, classes] expected");
  const at::Tensor x = x_in.to(at::kDouble), y = y_in.dim() == 1 ? y_in.to(at::kLong) : y_in.to(at::kDouble);
  at::Tensor w = at::zeros({x.size(1), classes}, at::kDouble).requires_grad_();
  at::Tensor b = at::zeros({classes}, at::kDouble).requires_grad_();
  torch::optim::LBFGS optimizer({w, b}, torch::optim::LBFGSOptions(1.0)
                                            .max_iter(max_iterations)
                                            .history_size(20)
                                            .tolerance_grad(1e-9)
                                            .tolerance_change(1e-12)
                                            .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    optimizer.zero_grad();
    at::Tensor loss = probe_loss(at::addmm(b, x, w), y) + 0.5 * l2 * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  optimizer.step(closure);
  LogisticModel m;
  m.weight = w.detach();
  m.bias = b.detach();
  m.l2 = l2;
  return m;
}

at::Tensor probe_loss(const at::Tensor& logits, const at::Tensor& y) {
  if (y.dim() == 1) return at::cross_entropy_loss(logits, y.to(at::kLong));
  return at::binary_cross_entropy_with_logits(logits, y.to(logits.dtype()), {}, {}, at::Reduction::Sum) /
         static_cast<double>(logits.size(0));
}

double probe_score(const at::Tensor& logits, const at::Tensor& y) {
  if (y.dim() == 2) return multilabel_metrics(logits, y).map;
  return logits.argmax(1).eq(y.to(at::kLong)).to(at::kDouble).mean().item<double>();
}

ProbeResult linear_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& val_x,
                         const at::Tensor& val_y, int64_t classes, std::vector<double> grid) {
  if (grid.empty())
    for (int e = -8; e <= 2; ++e) grid.push_back(std::pow(10.0, e));
  ProbeResult r;
  r.val_accuracy = -1;
  for (double l2 : grid) {
    const double acc = probe_score(fit_logistic(train_x, train_y, classes, l2).logits(val_x), val_y);
    spdlog::info("linear probe: l2 {:.0e} -> validation {} {:.2f}%", l2, val_y.dim() == 2 ? "mAP" : "accuracy", 100 * acc);
    r.sweep_l2.push_back(l2);
    r.sweep_val_accuracy.push_back(acc);
    if (acc >= r.val_accuracy) r.val_accuracy = acc, r.l2 = l2;  // ties go to the stronger strength
  }
  r.model = fit_logistic(at::cat({train_x, val_x}), at::cat({train_y, val_y}), classes, r.l2);
  return r;
}

}  // namespace mmcl::eval

#include <algorithm>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "mmcl/eval/logistic.h"
#include "util.h"

using namespace mmcl::eval;

namespace {

// The regularised objective's gradient, by hand: X^T (softmax(XW+b) - Y) / N + l2 W, and its bias part.
std::pair<at::Tensor, at::Tensor> gradient(const LogisticModel& m, const at::Tensor& x, const at::Tensor& y, int64_t c) {
  const at::Tensor xd = x.to(at::kDouble);
  const at::Tensor p = at::softmax(m.logits(xd), 1) - at::one_hot(y, c).to(at::kDouble);
  return {at::matmul(xd.t(), p) / x.size(0) + m.l2 * m.weight, p.mean(0)};
}

}  // namespace

CATCH_TEST_CASE("L-BFGS logistic regression reaches the regularised optimum", "[eval]") {
  torch::manual_seed(0);
  const int64_t n = 200, d = 5, c = 3;
  const at::Tensor x = at::randn({n, d});
  const at::Tensor y = at::matmul(x, at::randn({d, c})).argmax(1);
  for (double l2 : {1e-3, 1e-1, 10.0}) {
    CATCH_CAPTURE(l2);
    const LogisticModel m = fit_logistic(x, y, c, l2);
    const auto [gw, gb] = gradient(m, x, y, c);
    CATCH_CHECK(gw.abs().max().item<double>() < 1e-6);  // first-order optimality: the known solution
    CATCH_CHECK(gb.abs().max().item<double>() < 1e-6);
  }
  // Strong regularisation shrinks the weights towards zero.
  CATCH_CHECK(fit_logistic(x, y, c, 10.0).weight.norm().item<double>() <
              fit_logistic(x, y, c, 1e-3).weight.norm().item<double>());
}

CATCH_TEST_CASE("the linear probe picks the strength by validation accuracy", "[eval]") {
  torch::manual_seed(1);
  const int64_t d = 4, c = 2;
  const at::Tensor direction = at::randn({d, c});
  auto make = [&](int64_t n) {
    const at::Tensor x = at::randn({n, d});
    return std::make_pair(x, at::matmul(x, direction).argmax(1));
  };
  const auto [tx, ty] = make(300);
  const auto [vx, vy] = make(100);
  const ProbeResult r = linear_probe(tx, ty, vx, vy, c, {1e-4, 1e-2, 1e3});
  CATCH_CHECK(r.sweep_l2.size() == 3);
  CATCH_CHECK(r.val_accuracy > 0.9);  // a linearly separable problem
  CATCH_CHECK(r.val_accuracy == *std::max_element(r.sweep_val_accuracy.begin(), r.sweep_val_accuracy.end()));
  CATCH_CHECK(std::find(r.sweep_l2.begin(), r.sweep_l2.end(), r.l2) != r.sweep_l2.end());
  CATCH_CHECK(r.model.weight.size(0) == d);
}

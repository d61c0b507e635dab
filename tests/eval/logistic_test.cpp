#include <algorithm>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "mmcl/eval/logistic.h"
#include "mmcl/eval/probe.h"
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

CATCH_TEST_CASE("multi-label logistic regression is one regression per class", "[eval]") {
  torch::manual_seed(2);
  const int64_t n = 120, d = 4, c = 3;
  const at::Tensor x = at::randn({n, d});
  const at::Tensor truth = at::randn({d, c});
  const at::Tensor y = (at::matmul(x, truth) + 0.5 * at::randn({n, c})).gt(0).to(at::kFloat);
  const double l2 = 1e-2;
  const LogisticModel joint = fit_logistic(x, y, c, l2);
  for (int64_t k = 0; k < c; ++k) {
    CATCH_INFO("class " << k);
    // Class k alone: a one-class multi-label regression with the same penalty.
    const at::Tensor yk = y.select(1, k).to(at::kFloat).view({n, 1});
    const LogisticModel alone = fit_logistic(x, yk, 1, l2);
    CATCH_CHECK(at::allclose(joint.weight.select(1, k), alone.weight.select(1, 0), 1e-5, 1e-5));
    CATCH_CHECK(at::allclose(joint.bias.slice(0, k, k + 1), alone.bias, 1e-5, 1e-5));
  }
  // At the optimum the gradient vanishes: X^T (sigmoid(XW + b) - Y) / N + l2 W = 0.
  const at::Tensor xd = x.to(at::kDouble);
  const at::Tensor r = at::sigmoid(joint.logits(xd)) - y.to(at::kDouble);
  CATCH_CHECK((at::matmul(xd.t(), r) / n + l2 * joint.weight).abs().max().item<double>() < 1e-6);
  CATCH_CHECK(r.mean(0).abs().max().item<double>() < 1e-6);
}

CATCH_TEST_CASE("the SGD linear probe: its first step by hand, then it separates separable data", "[eval]") {
  torch::manual_seed(6);
  const int64_t n = 40, d = 3, c = 2;
  const at::Tensor x = at::randn({n, d});
  const at::Tensor y = x.select(1, 0).gt(0).to(at::kLong);
  // One full-batch step from zero: W = -lr X^T (1/C - onehot(y)) / N, b = -lr mean(1/C - onehot(y)).
  const auto features = [&](int64_t) { return std::make_pair(x, y); };
  const LogisticModel one = train_linear_sgd(features, c, 1, n, 0.5, 0.0, 0);
  const at::Tensor p = at::full({n, c}, 1.0 / c, at::kDouble) - at::one_hot(y, c).to(at::kDouble);
  CATCH_CHECK(at::allclose(one.weight, -0.5 * at::matmul(x.to(at::kDouble).t(), p) / n, 1e-9, 1e-9));
  CATCH_CHECK(at::allclose(one.bias, -0.5 * p.mean(0), 1e-9, 1e-9));
  // Many epochs of mini-batches separate it; the same seed gives the same model, features asked per epoch.
  int64_t asked = 0;
  const auto counted = [&](int64_t epoch) {
    CATCH_CHECK(epoch == asked++);
    return std::make_pair(x, y);
  };
  const LogisticModel trained = train_linear_sgd(counted, c, 50, 8, 1.0, 1e-4, 3);
  CATCH_CHECK(asked == 50);
  CATCH_CHECK(probe_score(trained.logits(x), y) >= 0.95);
  const LogisticModel again = train_linear_sgd(features, c, 50, 8, 1.0, 1e-4, 3);
  CATCH_CHECK(at::equal(trained.weight, again.weight));
}

#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"
#include "mmcl/core/precision.h"
#include "util.h"

using mmcl::losses::ntxent;

CATCH_TEST_CASE("NT-Xent matches a hand-computed case", "[loss]") {
  // Two samples, two views: z = [a0; a1; b0; b1] on the unit circle at angles 0, 90, 30, 120 degrees.
  auto unit = [](double deg) { return std::vector<double>{std::cos(deg * M_PI / 180), std::sin(deg * M_PI / 180)}; };
  std::vector<double> av, bv;
  for (double d : {0.0, 90.0}) for (double x : unit(d)) av.push_back(x);
  for (double d : {30.0, 120.0}) for (double x : unit(d)) bv.push_back(x);
  const at::Tensor a = at::tensor(av, at::kDouble).view({2, 2}), b = at::tensor(bv, at::kDouble).view({2, 2});
  const double tau = 0.5;
  const std::vector<double> angles = {0, 90, 30, 120};
  double total = 0;
  for (int i = 0; i < 4; ++i) {
    const int partner = (i + 2) % 4;
    double denom = 0;
    for (int j = 0; j < 4; ++j)
      if (j != i) denom += std::exp(std::cos((angles[i] - angles[j]) * M_PI / 180) / tau);
    total += -std::log(std::exp(std::cos((angles[i] - angles[partner]) * M_PI / 180) / tau) / denom);
  }
  CATCH_CHECK(ntxent(a, b, tau).item<double>() == Approx(total / 4).epsilon(1e-12));
}

CATCH_TEST_CASE("NT-Xent: gradient against finite differences, row blocks average to the whole loss", "[loss]") {
  torch::manual_seed(4);
  const at::Tensor a0 = at::randn({6, 3}, at::kDouble), b0 = at::randn({6, 3}, at::kDouble);
  auto loss = [&](const at::Tensor& a, const at::Tensor& b) {
    return ntxent(a / a.norm(2, 1, true), b / b.norm(2, 1, true), 0.1);
  };
  at::Tensor a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
  loss(a, b).backward();
  const double h = 1e-6;
  double worst = 0;
  for (int64_t i = 0; i < a0.numel(); ++i) {
    at::Tensor plus = a0.clone(), minus = a0.clone();
    plus.view({-1})[i] += h;
    minus.view({-1})[i] -= h;
    const double numeric = (loss(plus, b0).item<double>() - loss(minus, b0).item<double>()) / (2 * h);
    worst = std::max(worst, std::abs(numeric - a.grad().view({-1})[i].item<double>()));
  }
  CATCH_CHECK(worst < 1e-6);

  // Blocks of 2 rows (of both views) against all 12 views: their mean is the loss of the whole batch.
  const at::Tensor an = a0 / a0.norm(2, 1, true), bn = b0 / b0.norm(2, 1, true);
  double mean = 0;
  for (int64_t r = 0; r < 3; ++r) mean += ntxent(an, bn, 0.1, 2 * r, 2 * r + 2).item<double>() / 3;
  CATCH_CHECK(mean == Approx(ntxent(an, bn, 0.1).item<double>()).epsilon(1e-12));
  // Identical views far apart from the rest: the loss approaches 0; all views equal: ln(2N - 1).
  const at::Tensor eye = at::eye(4, at::kDouble);
  CATCH_CHECK(ntxent(eye, eye, 0.01).item<double>() < 1e-10);
  const at::Tensor same = at::ones({4, 2}, at::kDouble) / std::sqrt(2.0);
  CATCH_CHECK(ntxent(same, same, 0.1).item<double>() == Approx(std::log(7.0)));
  CATCH_CHECK_THROWS_AS(ntxent(an, bn, 0.1, 5, 7), mmcl::Error);
}

CATCH_TEST_CASE("NT-Xent under bfloat16 autocast follows float32", "[loss][precision]") {
  torch::manual_seed(4);
  const at::Tensor a = at::randn({6, 16}), b = at::randn({6, 16});
  const double fp32 = mmcl::losses::ntxent(a, b, 0.1).item<double>();
  const auto amp = mmcl::resolve_precision(mmcl::PrecisionMode::amp_bf16, c10::Device("cpu"));
  double low = 0;
  {
    mmcl::AutocastGuard guard(amp, c10::Device("cpu"));
    low = mmcl::losses::ntxent(a, b, 0.1).item<double>();  // the logits are bfloat16 here
  }
  CATCH_CHECK(std::isfinite(low));
  CATCH_CHECK(std::abs(low - fp32) < 0.05 * fp32);
}

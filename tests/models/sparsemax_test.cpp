// Sparsemax against its definition (the Euclidean projection onto the simplex, found by trying every
// support) and its gradient against central finite differences.
#include <random>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmcl/models/sparsemax.h"
#include "util.h"

using mmcl::models::sparsemax;

namespace {

// argmin_p ||p - z||^2 over the simplex, by enumerating supports: on support S the KKT conditions give
// p_S = z_S - tau with tau = (sum z_S - 1) / |S|, valid when p_S > 0 and z_j <= tau off S.
std::vector<double> project_by_search(const std::vector<double>& z) {
  const size_t n = z.size();
  for (unsigned mask = 1; mask < (1u << n); ++mask) {
    double sum = 0;
    int count = 0;
    for (size_t i = 0; i < n; ++i)
      if (mask & (1u << i)) sum += z[i], ++count;
    const double tau = (sum - 1) / count;
    bool ok = true;
    std::vector<double> p(n, 0.0);
    for (size_t i = 0; i < n && ok; ++i) {
      if (mask & (1u << i)) {
        p[i] = z[i] - tau;
        ok = p[i] > 0;
      } else {
        ok = z[i] <= tau;
      }
    }
    if (ok) return p;
  }
  return {};
}

}  // namespace

CATCH_TEST_CASE("sparsemax is the projection onto the simplex", "[models]") {
  // Closed forms: a tie splits evenly; a clear winner takes everything.
  CATCH_CHECK(at::allclose(sparsemax(at::tensor({0.0, 0.0}, at::kDouble)), at::tensor({0.5, 0.5}, at::kDouble)));
  CATCH_CHECK(at::allclose(sparsemax(at::tensor({3.0, 0.0, -1.0}, at::kDouble)), at::tensor({1.0, 0.0, 0.0}, at::kDouble)));
  CATCH_CHECK(at::allclose(sparsemax(at::tensor({0.5, 0.3, -2.0}, at::kDouble)), at::tensor({0.6, 0.4, 0.0}, at::kDouble)));

  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0.0, 1.5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> z(6);
    for (double& v : z) v = normal(rng);
    const std::vector<double> expected = project_by_search(z);
    CATCH_REQUIRE(expected.size() == 6);
    const at::Tensor p = sparsemax(at::tensor(z, at::kDouble));
    for (size_t i = 0; i < 6; ++i) CATCH_CHECK(p[static_cast<int64_t>(i)].item<double>() == Approx(expected[i]).margin(1e-12));
  }
  // Batched rows are independent, and exact zeros appear.
  const at::Tensor rows = at::randn({4, 50}, at::kDouble) * 3;
  const at::Tensor batched = sparsemax(rows);
  for (int64_t r = 0; r < 4; ++r) CATCH_CHECK(at::allclose(batched[r], sparsemax(rows[r])));
  CATCH_CHECK(at::allclose(batched.sum(-1), at::ones({4}, at::kDouble)));
  CATCH_CHECK(batched.eq(0).any().item<bool>());
}

CATCH_TEST_CASE("sparsemax's gradient matches finite differences", "[models]") {
  at::manual_seed(3);
  for (int trial = 0; trial < 20; ++trial) {
    const at::Tensor z = (at::randn({3, 7}, at::kDouble) * 2).set_requires_grad(true);
    const at::Tensor w = at::randn({3, 7}, at::kDouble);
    const at::Tensor loss = (sparsemax(z) * w).sum();
    const at::Tensor grad = torch::autograd::grad({loss}, {z})[0];
    const double h = 1e-6;
    at::Tensor numeric = at::zeros_like(z);
    at::Tensor zd = z.detach().clone();
    for (int64_t i = 0; i < zd.numel(); ++i) {
      const double keep = zd.view(-1)[i].item<double>();
      zd.view(-1)[i] = keep + h;
      const double up = (sparsemax(zd) * w).sum().item<double>();
      zd.view(-1)[i] = keep - h;
      const double down = (sparsemax(zd) * w).sum().item<double>();
      zd.view(-1)[i] = keep;
      numeric.view(-1)[i] = (up - down) / (2 * h);
    }
    CATCH_CHECK(at::allclose(grad, numeric, 1e-5, 1e-6));
  }
}

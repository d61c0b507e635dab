// SigLIP's sigmoid loss (Zhai et al. 2023): a hand-computed case, finite differences for the embeddings,
// the scale and the bias, and row blocks whose mean is the whole batch's loss.
#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include "mmcl/losses/loss.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("SigLIP's loss against hand computation, finite differences and row blocks", "[losses]") {
  // Two pairs in 2-D: a = [(1, 0), (0, 1)], b = [(0.6, 0.8), (1, 0)]; t = 2, bias = -1.
  const at::Tensor a = at::tensor({1.0, 0.0, 0.0, 1.0}, at::kDouble).view({2, 2});
  const at::Tensor b = at::tensor({0.6, 0.8, 1.0, 0.0}, at::kDouble).view({2, 2});
  const at::Tensor t = at::scalar_tensor(2.0, at::kDouble), bias = at::scalar_tensor(-1.0, at::kDouble);
  // logits: [[2*0.6-1, 2*1-1], [2*0.8-1, 2*0-1]] = [[0.2, 1], [0.6, -1]]; labels +1 on the diagonal.
  const auto ls = [](double z) { return std::log(1 / (1 + std::exp(-z))); };
  const double expected = -(ls(0.2) + ls(-1.0) + ls(-0.6) + ls(-1.0)) / 2;
  CATCH_CHECK(losses::siglip(a, b, t, bias).item<double>() == Approx(expected).epsilon(1e-12));

  // Row blocks: the mean over equal blocks of rows is the whole loss.
  torch::manual_seed(1);
  const at::Tensor x = at::randn({6, 4}, at::kDouble), y = at::randn({6, 4}, at::kDouble);
  const double whole = losses::siglip(x, y, t, bias).item<double>();
  const double blocks = (losses::siglip(x, y, t, bias, 0, 3).item<double>() + losses::siglip(x, y, t, bias, 3, 6).item<double>()) / 2;
  CATCH_CHECK(blocks == Approx(whole).epsilon(1e-12));

  // Gradients against central differences, for the embeddings, the scale and the bias.
  const at::Tensor xv = x.clone().requires_grad_(), yv = y.clone().requires_grad_();
  const at::Tensor tv = t.clone().requires_grad_(), bv = bias.clone().requires_grad_();
  losses::siglip(xv, yv, tv, bv).backward();
  const double h = 1e-6;
  const auto numeric = [&](at::Tensor p, int64_t i) {
    at::Tensor flat = p.view(-1);
    const double keep = flat[i].item<double>();
    flat[i] = keep + h;
    const double up = losses::siglip(x, y, t, bias).item<double>();
    flat[i] = keep - h;
    const double down = losses::siglip(x, y, t, bias).item<double>();
    flat[i] = keep;
    return (up - down) / (2 * h);
  };
  for (int64_t i = 0; i < x.numel(); i += 5) CATCH_CHECK(xv.grad().view(-1)[i].item<double>() == Approx(numeric(x, i)).margin(1e-7));
  for (int64_t i = 0; i < y.numel(); i += 5) CATCH_CHECK(yv.grad().view(-1)[i].item<double>() == Approx(numeric(y, i)).margin(1e-7));
  CATCH_CHECK(tv.grad().item<double>() == Approx(numeric(t, 0)).margin(1e-7));
  CATCH_CHECK(bv.grad().item<double>() == Approx(numeric(bias, 0)).margin(1e-7));

  // Without a bias the loss names the key to set.
  try {
    losses::siglip(a, b, t, at::Tensor());
    CATCH_FAIL("no error");
  } catch (const Error& e) {
    CATCH_CHECK(std::string(e.what()).find("model.logit_bias") != std::string::npos);
  }
}

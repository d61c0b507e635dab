#include <cmath>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmcl/losses/loss.h"
#include "util.h"

using mmcl::losses::infonce;

CATCH_TEST_CASE("infonce matches a hand-computed case", "[loss]") {
  // a = [[1,0],[0,1]], b = [[1,0],[0.6,0.8]], scale 2: logits = 2 a b^T = [[2, 1.2], [0, 1.6]].
  const at::Tensor a = at::tensor({1.0, 0.0, 0.0, 1.0}, at::kDouble).view({2, 2});
  const at::Tensor b = at::tensor({1.0, 0.0, 0.6, 0.8}, at::kDouble).view({2, 2});
  const at::Tensor scale = at::tensor(2.0, at::kDouble);
  using std::exp, std::log;
  const double image_to_text = (-log(exp(2.0) / (exp(2.0) + exp(1.2))) - log(exp(1.6) / (exp(0.0) + exp(1.6)))) / 2;
  const double text_to_image = (-log(exp(2.0) / (exp(2.0) + exp(0.0))) - log(exp(1.6) / (exp(1.2) + exp(1.6)))) / 2;
  const double expected = (image_to_text + text_to_image) / 2;
  CATCH_CHECK(infonce(a, b, scale).item<double>() == Approx(expected).epsilon(1e-6));
}

CATCH_TEST_CASE("infonce limits: identical rows give ln N, perfect pairs at high scale give 0", "[loss]") {
  const int64_t n = 5;
  const at::Tensor same = at::ones({n, 3}, at::kDouble) / std::sqrt(3.0);
  CATCH_CHECK(infonce(same, same, at::tensor(10.0, at::kDouble)).item<double>() == Approx(std::log(5.0)));
  const at::Tensor eye = at::eye(n, at::kDouble);
  CATCH_CHECK(infonce(eye, eye, at::tensor(100.0, at::kDouble)).item<double>() < 1e-10);
}

CATCH_TEST_CASE("infonce gradient matches central finite differences", "[loss]") {
  at::manual_seed(7);
  const int64_t n = 4, d = 3;
  // The loss as training sees it: L2-normalised embeddings and an exponentiated log scale.
  auto loss_of = [](const at::Tensor& x, const at::Tensor& y, const at::Tensor& t) {
    return infonce(x / x.norm(2, -1, true), y / y.norm(2, -1, true), t.exp());
  };
  at::Tensor x = at::randn({n, d}, at::kDouble).requires_grad_();
  at::Tensor y = at::randn({n, d}, at::kDouble).requires_grad_();
  at::Tensor t = at::tensor(1.3, at::kDouble).requires_grad_();
  loss_of(x, y, t).backward();

  const double h = 1e-6;
  for (at::Tensor* input : {&x, &y, &t}) {
    const at::Tensor analytic = input->grad().clone();
    at::Tensor flat = input->detach().clone().view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      at::Tensor plus = flat.clone(), minus = flat.clone();
      plus[i] += h;
      minus[i] -= h;
      auto eval = [&](const at::Tensor& v) {
        const at::Tensor shaped = v.view(input->sizes());
        return loss_of(input == &x ? shaped : x.detach(), input == &y ? shaped : y.detach(),
                       input == &t ? shaped : t.detach())
            .item<double>();
      };
      const double numeric = (eval(plus) - eval(minus)) / (2 * h);
      CATCH_CHECK(analytic.view(-1)[i].item<double>() == Approx(numeric).margin(1e-7));
    }
  }
}

CATCH_TEST_CASE("the infonce loss reads image and text embeddings by name", "[loss]") {
  mmcl::config::LossConfig config;
  const auto loss = mmcl::losses::make_loss(config);
  mmcl::models::Embeddings e;
  e.by_modality["image"] = at::eye(3);
  e.by_modality["text"] = at::eye(3);
  e.logit_scale = at::tensor(1.0f);
  const double expected = infonce(at::eye(3), at::eye(3), at::tensor(1.0f)).item<double>();
  CATCH_CHECK((*loss)(e).total.item<double>() == Approx(expected));
  e.by_modality.erase("text");
  CATCH_CHECK_THROWS_WITH((*loss)(e), "the model produced no text embeddings");
}

CATCH_TEST_CASE("infonce over row blocks (local_loss): hand-computed rows, and the block mean is the whole loss",
                "[loss]") {
  using mmcl::losses::infonce_rows;
  // The hand-computed case above: row 1 alone is its image->text and text->image terms for row 1.
  const at::Tensor a = at::tensor({1.0, 0.0, 0.0, 1.0}, at::kDouble).view({2, 2});
  const at::Tensor b = at::tensor({1.0, 0.0, 0.6, 0.8}, at::kDouble).view({2, 2});
  const at::Tensor two = at::tensor(2.0, at::kDouble);
  using std::exp, std::log;
  const double row1 = (-log(exp(1.6) / (exp(0.0) + exp(1.6))) - log(exp(1.6) / (exp(1.2) + exp(1.6)))) / 2;
  CATCH_CHECK(infonce_rows(a, b, two, 1, 2).item<double>() == Approx(row1).epsilon(1e-12));

  // Four blocks of 3 rows of a batch of 12: their mean equals the loss of the whole batch, in value and gradient.
  torch::manual_seed(3);
  const at::Tensor x = at::randn({12, 5}, at::kDouble), y = at::randn({12, 5}, at::kDouble);
  const at::Tensor scale = at::tensor(4.0, at::kDouble);
  auto leaves = [&] {
    return std::make_pair(torch::autograd::make_variable(x.clone(), true), torch::autograd::make_variable(y.clone(), true));
  };
  auto [x1, y1] = leaves();
  const at::Tensor whole = infonce(x1, y1, scale);
  whole.backward();
  auto [x2, y2] = leaves();
  at::Tensor blocks = at::zeros({}, at::kDouble);
  for (int64_t r = 0; r < 4; ++r) blocks = blocks + infonce_rows(x2, y2, scale, 3 * r, 3 * r + 3) / 4;
  blocks.backward();
  CATCH_CHECK(blocks.item<double>() == Approx(whole.item<double>()).epsilon(1e-12));
  CATCH_CHECK((x1.grad() - x2.grad()).abs().max().item<double>() < 1e-12);
  CATCH_CHECK((y1.grad() - y2.grad()).abs().max().item<double>() < 1e-12);
  CATCH_CHECK_THROWS_AS(infonce_rows(x, y, scale, 10, 13), mmcl::Error);
}

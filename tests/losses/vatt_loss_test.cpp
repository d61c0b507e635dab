#include <cmath>
#include <functional>
#include <tuple>
#include <utility>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"
#include "util.h"

using mmcl::losses::mil_nce;
using mmcl::losses::nce;

namespace {

at::Tensor unit(const at::Tensor& x) { return x / x.norm(2, -1, true); }

// MIL-NCE written out: sums of exp over the valid captions, rows without a caption left out of the mean.
double mil_nce_loop(const at::Tensor& v, const at::Tensor& t, const at::Tensor& valid, double tau) {
  const int64_t b = t.size(0), k = t.size(1);
  auto x = [&](int64_t i, int64_t j, int64_t c) { return std::exp(v[i].dot(t[j][c]).item<double>() / tau); };
  auto ok = [&](int64_t j, int64_t c) { return valid[j][c].item<double>() > 0; };
  double total = 0;
  int rows = 0;
  for (int64_t i = 0; i < b; ++i) {
    double num = 0, den = 0;
    for (int64_t c = 0; c < k; ++c)
      if (ok(i, c)) num += x(i, i, c);
    if (num == 0) continue;
    for (int64_t j = 0; j < b; ++j)
      for (int64_t c = 0; c < k; ++c) {
        if (ok(j, c)) den += x(i, j, c);  // video i against every caption
        if (ok(i, c)) den += x(j, i, c);  // every video against the captions of i
      }
    total += std::log(den) - std::log(num);
    ++rows;
  }
  return total / rows;
}

bool all_finite(const at::Tensor& x) { return at::isfinite(x).all().item<bool>(); }

}  // namespace

CATCH_TEST_CASE("MIL-NCE matches a hand-computed case", "[loss]") {
  // D = 1, tau = 1: v = (1, 0.5), captions t0 = (1, 0), t1 = (-1, 2), so x[i][j][k] = v_i t_jk:
  //   x[0] = [[1, 0], [-1, 2]],  x[1] = [[0.5, 0], [-0.5, 1]].
  // Row 0: num = ln(e + 1), den = ln(e + 1 + e^-1 + e^2  +  e + 1 + e^0.5 + 1).
  // Row 1: num = ln(e^-0.5 + e), den = ln(e^0.5 + 1 + e^-0.5 + e  +  e^-1 + e^2 + e^-0.5 + e).
  const at::Tensor v = at::tensor({1.0, 0.5}, at::kDouble).view({2, 1});
  const at::Tensor t = at::tensor({1.0, 0.0, -1.0, 2.0}, at::kDouble).view({2, 2, 1});
  using std::exp, std::log;
  const double e = exp(1.0);
  const double row0 = log(e + 1 + exp(-1.0) + exp(2.0) + e + 1 + exp(0.5) + 1) - log(e + 1);
  const double row1 = log(exp(0.5) + 1 + exp(-0.5) + e + exp(-1.0) + exp(2.0) + exp(-0.5) + e) - log(exp(-0.5) + e);
  CATCH_CHECK(mil_nce(v, t, at::Tensor(), 1.0).item<double>() == Approx((row0 + row1) / 2).epsilon(1e-12));
  CATCH_CHECK(mil_nce(v, t, at::Tensor(), 1.0, 1, 2).item<double>() == Approx(row1).epsilon(1e-12));
}

CATCH_TEST_CASE("MIL-NCE matches a direct computation with padded captions", "[loss]") {
  torch::manual_seed(11);
  const at::Tensor v = unit(at::randn({3, 4}, at::kDouble)), t = unit(at::randn({3, 2, 4}, at::kDouble));
  // Sample 1 has one caption, sample 2 none (left out of the mean).
  const at::Tensor valid = at::tensor({1.0, 1.0, 1.0, 0.0, 0.0, 0.0}, at::kDouble).view({3, 2});
  const double tau = 0.1;
  CATCH_CHECK(mil_nce(v, t, valid, tau).item<double>() == Approx(mil_nce_loop(v, t, valid, tau)).epsilon(1e-12));
  // All valid: the same as no mask, and [B, D] captions are K = 1.
  const at::Tensor ones = at::ones({3, 2}, at::kDouble);
  CATCH_CHECK(mil_nce(v, t, at::Tensor(), tau).item<double>() == Approx(mil_nce_loop(v, t, ones, tau)).epsilon(1e-12));
  const at::Tensor t1 = t.select(1, 0);
  CATCH_CHECK(mil_nce(v, t1, at::Tensor(), tau).item<double>() ==
              Approx(mil_nce_loop(v, t1.unsqueeze(1), at::ones({3, 1}, at::kDouble), tau)).epsilon(1e-12));
  // Rows [2, 3) hold no caption: a zero loss that keeps the graph.
  const at::Tensor vg = v.clone().requires_grad_(true);
  const at::Tensor none = mil_nce(vg, t, valid, tau, 2, 3);
  CATCH_CHECK(none.item<double>() == 0);
  none.backward();
  CATCH_CHECK(vg.grad().abs().max().item<double>() == 0);
  CATCH_CHECK_THROWS_AS(mil_nce(v, t, valid, tau, 2, 4), mmcl::Error);
  CATCH_CHECK_THROWS_AS(mil_nce(v, t, at::ones({3, 3}, at::kDouble), tau), mmcl::Error);
}

CATCH_TEST_CASE("MIL-NCE ignores padding, its gradient matches finite differences and stays finite", "[loss]") {
  torch::manual_seed(5);
  const at::Tensor v0 = at::randn({4, 3}, at::kDouble), t0 = at::randn({4, 2, 3}, at::kDouble);
  const at::Tensor valid = at::tensor({1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0}, at::kDouble).view({4, 2});
  auto loss = [&](const at::Tensor& v, const at::Tensor& t) { return mil_nce(unit(v), unit(t), valid, 0.5); };
  auto grads = [&](const at::Tensor& v0_, const at::Tensor& t0_) {
    at::Tensor v = v0_.clone().requires_grad_(true), t = t0_.clone().requires_grad_(true);
    const at::Tensor l = loss(v, t);
    l.backward();
    return std::make_tuple(l.item<double>(), v.grad(), t.grad());
  };
  const auto [value, gv, gt] = grads(v0, t0);
  CATCH_CHECK(all_finite(gv));
  CATCH_CHECK(all_finite(gt));

  // Other values in the padded caption (0, 1) change nothing.
  at::Tensor t_other = t0.clone();
  t_other[0][1] = at::randn({3}, at::kDouble);
  const auto [value2, gv2, gt2] = grads(v0, t_other);
  CATCH_CHECK(value2 == Approx(value).epsilon(1e-14));
  CATCH_CHECK((gv - gv2).abs().max().item<double>() < 1e-14);
  CATCH_CHECK((gt - gt2).abs().max().item<double>() < 1e-14);
  CATCH_CHECK(gt[0][1].abs().max().item<double>() == 0);

  // Central differences over every input, padding and the caption-less sample 2 included.
  const double h = 1e-6;
  for (const auto& [input, grad] : {std::make_pair(v0, gv), std::make_pair(t0, gt)}) {
    for (int64_t i = 0; i < input.numel(); ++i) {
      at::Tensor plus = input.clone(), minus = input.clone();
      plus.view(-1)[i] += h;
      minus.view(-1)[i] -= h;
      const bool is_v = input.dim() == 2;
      const double numeric = ((is_v ? loss(plus, t0) : loss(v0, plus)).item<double>() -
                              (is_v ? loss(minus, t0) : loss(v0, minus)).item<double>()) / (2 * h);
      CATCH_CHECK(grad.view(-1)[i].item<double>() == Approx(numeric).epsilon(1e-6).margin(1e-8));
    }
  }

  // Zero padding rows as the model produces them (not normalised) and a caption-less sample: finite gradients.
  at::Tensor t_zero = unit(t0).masked_fill(valid.unsqueeze(2) == 0, 0).requires_grad_(true);
  at::Tensor v = unit(v0).requires_grad_(true);
  mil_nce(v, t_zero, valid, 0.07).backward();
  CATCH_CHECK(all_finite(v.grad()));
  CATCH_CHECK(all_finite(t_zero.grad()));
}

CATCH_TEST_CASE("MIL-NCE and NCE over row blocks average to the whole loss, NCE is infonce at 1/tau", "[loss]") {
  torch::manual_seed(8);
  const at::Tensor v = unit(at::randn({4, 5}, at::kDouble)), t = unit(at::randn({4, 2, 5}, at::kDouble));
  const at::Tensor a = unit(at::randn({4, 5}, at::kDouble));
  const at::Tensor valid = at::ones({4, 2}, at::kDouble);
  using Fn = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, int64_t)>;
  const Fn mil = [&](const at::Tensor& x, const at::Tensor& y, int64_t b, int64_t e) {
    return mil_nce(x, y, valid, 0.07, b, e);
  };
  const Fn pair = [](const at::Tensor& x, const at::Tensor& y, int64_t b, int64_t e) { return nce(x, y, 0.07, b, e); };
  for (const auto& [fn, other] : {std::make_pair(mil, t), std::make_pair(pair, a)}) {
    at::Tensor x1 = v.clone().requires_grad_(true), y1 = other.clone().requires_grad_(true);
    const at::Tensor whole = fn(x1, y1, 0, -1);
    whole.backward();
    at::Tensor x2 = v.clone().requires_grad_(true), y2 = other.clone().requires_grad_(true);
    const at::Tensor blocks = (fn(x2, y2, 0, 2) + fn(x2, y2, 2, 4)) / 2;
    blocks.backward();
    CATCH_CHECK(blocks.item<double>() == Approx(whole.item<double>()).epsilon(1e-12));
    CATCH_CHECK((x1.grad() - x2.grad()).abs().max().item<double>() < 1e-12);
    CATCH_CHECK((y1.grad() - y2.grad()).abs().max().item<double>() < 1e-12);
  }

  const at::Tensor scale = at::tensor(1 / 0.07, at::kDouble);
  CATCH_CHECK(nce(v, a, 0.07).item<double>() ==
              Approx(mmcl::losses::infonce(v, a, scale).item<double>()).epsilon(1e-12));
  CATCH_CHECK(nce(v, a, 0.07, 1, 3).item<double>() ==
              Approx(mmcl::losses::infonce_rows(v, a, scale, 1, 3).item<double>()).epsilon(1e-12));
}

CATCH_TEST_CASE("the vatt loss: NCE + mil_weight x MIL-NCE over the embeddings present", "[loss]") {
  torch::manual_seed(2);
  mmcl::models::Embeddings e;
  e.by_modality["video_va"] = unit(at::randn({3, 4}, at::kDouble));
  e.by_modality["audio"] = unit(at::randn({3, 4}, at::kDouble));
  e.by_modality["video"] = unit(at::randn({3, 6}, at::kDouble));
  e.by_modality["text"] = unit(at::randn({3, 2, 6}, at::kDouble));
  e.by_modality["text_mask"] = at::tensor({1.0, 1.0, 1.0, 0.0, 0.0, 0.0}, at::kDouble).view({3, 2});
  e.logit_scale = at::tensor(1.0, at::kDouble);
  const double n = nce(e.at("video_va"), e.at("audio"), 0.07).item<double>();
  const double m = mil_nce(e.at("video"), e.at("text"), e.at("text_mask"), 0.07).item<double>();

  mmcl::config::LossConfig config;
  config.name = "vatt";
  config.mil_weight = 0.5;
  const auto loss = mmcl::losses::make_loss(config);  // temperature 0: VATT's 0.07
  const auto out = (*loss)(e);
  CATCH_CHECK(out.total.item<double>() == Approx(n + 0.5 * m).epsilon(1e-12));
  CATCH_REQUIRE(out.terms.size() == 2);
  CATCH_CHECK(out.terms.at("nce").item<double>() == Approx(n).epsilon(1e-12));
  CATCH_CHECK(out.terms.at("mil_nce").item<double>() == Approx(m).epsilon(1e-12));
  config.temperature = 0.07;
  CATCH_CHECK((*mmcl::losses::make_loss(config))(e).total.item<double>() == Approx(n + 0.5 * m).epsilon(1e-12));
  CATCH_CHECK(loss->local(e, 0, 3).total.item<double>() == Approx(n + 0.5 * m).epsilon(1e-12));

  mmcl::models::Embeddings video_text = e;  // no audio: MIL-NCE alone
  video_text.by_modality.erase("audio");
  const auto vt = (*loss)(video_text);
  CATCH_CHECK(vt.terms.size() == 1);
  CATCH_CHECK(vt.terms.count("mil_nce") == 1);
  CATCH_CHECK(vt.total.item<double>() == Approx(0.5 * m).epsilon(1e-12));

  mmcl::models::Embeddings video_audio = e;  // no text: NCE alone
  video_audio.by_modality.erase("text");
  video_audio.by_modality.erase("text_mask");
  const auto va = (*loss)(video_audio);
  CATCH_CHECK(va.terms.size() == 1);
  CATCH_CHECK(va.terms.count("nce") == 1);
  CATCH_CHECK(va.total.item<double>() == Approx(n).epsilon(1e-12));
  video_audio.by_modality.erase("audio");
  CATCH_CHECK_THROWS_AS((*loss)(video_audio), mmcl::Error);

  // NT-Xent's temperature 0 is its 0.1.
  config.name = "ntxent";
  config.temperature = 0;
  mmcl::models::Embeddings views;
  views.by_modality["video"] = e.at("video_va");
  views.by_modality["video_2"] = e.at("audio");
  CATCH_CHECK((*mmcl::losses::make_loss(config))(views).total.item<double>() ==
              Approx(mmcl::losses::ntxent(e.at("video_va"), e.at("audio"), 0.1).item<double>()).epsilon(1e-12));
}

CATCH_TEST_CASE("the vatt loss in the official code's form: asymmetric NCE, normalised by the weights", "[loss]") {
  torch::manual_seed(5);
  mmcl::models::Embeddings e;
  e.by_modality["video_va"] = unit(at::randn({4, 3}, at::kDouble));
  e.by_modality["audio"] = unit(at::randn({4, 3}, at::kDouble));
  e.by_modality["video"] = unit(at::randn({4, 5}, at::kDouble));
  e.by_modality["text"] = unit(at::randn({4, 5}, at::kDouble));
  e.logit_scale = at::tensor(1.0, at::kDouble);
  const double tau = 0.07;
  // By hand: L_i = log sum_j (exp(v_i a_j / tau) + exp(v_j a_i / tau)) - v_i a_i / tau, averaged.
  const at::Tensor v = e.at("video_va"), a = e.at("audio");
  double by_hand = 0;
  for (int64_t i = 0; i < 4; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < 4; ++j)
      sum += std::exp(v[i].dot(a[j]).item<double>() / tau) + std::exp(v[j].dot(a[i]).item<double>() / tau);
    by_hand += std::log(sum) - v[i].dot(a[i]).item<double>() / tau;
  }
  by_hand /= 4;
  const double m = mil_nce(e.at("video"), e.at("text"), at::Tensor(), tau).item<double>();

  mmcl::config::LossConfig config;
  config.name = "vatt";
  config.mil_weight = 0.5;
  config.asymmetric_nce = true;
  auto out = (*mmcl::losses::make_loss(config))(e);
  CATCH_CHECK(out.terms.at("nce").item<double>() == Approx(by_hand).epsilon(1e-12));
  CATCH_CHECK(out.total.item<double>() == Approx(by_hand + 0.5 * m).epsilon(1e-12));
  // It differs from the symmetric form (the mean of the two directions' cross-entropies).
  CATCH_CHECK(std::abs(by_hand - nce(v, a, tau).item<double>()) > 1e-3);
  config.normalize_weights = true;
  out = (*mmcl::losses::make_loss(config))(e);
  CATCH_CHECK(out.total.item<double>() == Approx((by_hand + 0.5 * m) / 1.5).epsilon(1e-12));
  mmcl::models::Embeddings video_text = e;  // one term: its weight alone divides
  video_text.by_modality.erase("audio");
  CATCH_CHECK((*mmcl::losses::make_loss(config))(video_text).total.item<double>() == Approx(m).epsilon(1e-12));
}

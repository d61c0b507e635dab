#include "mmcl/eval/probe.h"

#include <cmath>
#include <limits>
#include <optional>
#include <numeric>
#include <random>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/eval/embed.h"

namespace mmcl::eval {

LogisticModel train_linear_sgd(const std::function<std::pair<at::Tensor, at::Tensor>(int64_t)>& features,
                               int64_t classes, int64_t epochs, int64_t batch_size, double lr, double weight_decay,
                               uint64_t seed) {
  at::Tensor w, b, vw, vb;
  int64_t step = 0, total = 0;
  std::mt19937_64 rng(seed);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const auto [x_in, y] = features(epoch);
    const at::Tensor x = x_in.to(at::kDouble);
    const int64_t n = x.size(0);
    MMCL_CHECK(n > 0, "linear probe: no training features");
    if (!w.defined()) {
      w = at::zeros({x.size(1), classes}, at::kDouble);
      b = at::zeros({classes}, at::kDouble);
      vw = at::zeros_like(w);
      vb = at::zeros_like(b);
      total = epochs * ((n + batch_size - 1) / batch_size);
    }
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const at::Tensor perm = at::tensor(order, at::kLong);
    for (int64_t begin = 0; begin < n; begin += batch_size, ++step) {
      const at::Tensor rows = perm.slice(0, begin, std::min(n, begin + batch_size));
      const at::Tensor xb = x.index_select(0, rows), yb = y.index_select(0, rows);
      const at::Tensor wg = w.detach().requires_grad_(), bg = b.detach().requires_grad_();
      const at::Tensor loss = probe_loss(at::addmm(bg, xb, wg), yb);
      loss.backward();
      const double rate = lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(std::min(step, total)) / static_cast<double>(std::max<int64_t>(total, 1))));
      vw.mul_(0.9).add_(wg.grad() + weight_decay * w);
      vb.mul_(0.9).add_(bg.grad());
      w = w - rate * vw;
      b = b - rate * vb;
    }
  }
  LogisticModel m;
  m.weight = w;
  m.bias = b;
  m.l2 = weight_decay;
  return m;
}

namespace {

// The test report: single- or multi-label metrics of the model's logits.
void report_test(ProbeReport& out, const LogisticModel& model, const LabelledEmbeddings& test) {
  const at::Tensor logits = model.logits(test.x);
  if (out.multi_label) out.test_multi = multilabel_metrics(logits, test.y);
  else out.test = classification_metrics(logits, test.y);
}

// CVRL's linear evaluation: SGD on the features of train-time inputs cropped and flipped, nothing else.
void sgd_probe(const run::Run& run, const data::Manifest& train, const LabelledEmbeddings& test, ProbeReport& out) {
  const config::RunConfig& c = run.config;
  if (!c.eval.val.empty()) spdlog::info("eval.probe.method sgd: eval.val is not used (no strength to choose)");
  run::Run crop_flip = run;
  config::VideoDataConfig& v = crop_flip.config.data.video;
  v.jitter_prob = v.grayscale_prob = v.blur_prob = v.solarize_prob = v.audio_noise = 0;
  v.blur_prob_view2 = v.solarize_prob_view2 = -1;
  crop_flip.config.data.image.flip = true;
  LabelledEmbeddings fixed;
  const auto features = [&](int64_t epoch) {
    if (!c.eval.probe.augment) {
      if (!fixed.x.defined()) fixed = embed_labelled(run, train, /*train=*/false, 0, out.classes);
      return std::make_pair(fixed.x, fixed.y);
    }
    const LabelledEmbeddings e = embed_labelled(crop_flip, train, /*train=*/true, epoch, out.classes);
    return std::make_pair(e.x, e.y);
  };
  const int64_t batch = c.eval.batch_size;
  out.probe.model = train_linear_sgd(features, out.classes, c.eval.probe.epochs, batch, c.eval.probe.lr,
                                     c.eval.probe.weight_decay, static_cast<uint64_t>(c.run.seed));
  out.probe.l2 = c.eval.probe.weight_decay;
  out.probe.val_accuracy = std::numeric_limits<double>::quiet_NaN();
  out.fit = static_cast<int64_t>(train.records.size());
  report_test(out, out.probe.model, test);
}

}  // namespace

ProbeReport probe_checkpoint(const run::Run& run) {
  const config::RunConfig& c = run.config;
  const data::Manifest train_m = read_labelled(c.eval, c.data, c.eval.train);
  const data::Manifest test_m = read_labelled(c.eval, c.data, c.eval.data);
  if (train_m.label_names != test_m.label_names)
    throw ConfigError(str_cat(c.eval.data, ": its class names differ from those of ", c.eval.train));
  ProbeReport out;
  out.multi_label = c.eval.multi_label;
  std::optional<data::Manifest> val_m;
  if (!c.eval.val.empty()) val_m = read_labelled(c.eval, c.data, c.eval.val);
  out.classes = std::max(class_count(train_m), class_count(test_m));
  if (val_m) out.classes = std::max(out.classes, class_count(*val_m));
  const LabelledEmbeddings test = embed_labelled(run, test_m, false, 0, out.classes);
  if (c.eval.probe.method == ProbeMethod::sgd) {
    sgd_probe(run, train_m, test, out);
    return out;
  }
  const LabelledEmbeddings train = embed_labelled(run, train_m, false, 0, out.classes);
  LabelledEmbeddings fit = train, val;
  if (val_m) {
    val = embed_labelled(run, *val_m, false, 0, out.classes);
  } else {
    // A fixed 20% of the training set chooses the regularisation.
    std::vector<int64_t> order(static_cast<size_t>(train.x.size(0)));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(static_cast<uint64_t>(c.run.seed));
    std::shuffle(order.begin(), order.end(), rng);
    const auto cut = static_cast<int64_t>(order.size() * 4 / 5);
    MMCL_CHECK(cut > 0 && cut < static_cast<int64_t>(order.size()), "eval.train has too few samples to split");
    const at::Tensor idx = at::tensor(order, at::kLong);
    fit.x = train.x.index_select(0, idx.slice(0, 0, cut));
    fit.y = train.y.index_select(0, idx.slice(0, 0, cut));
    val.x = train.x.index_select(0, idx.slice(0, cut));
    val.y = train.y.index_select(0, idx.slice(0, cut));
  }
  out.probe = linear_probe(fit.x, fit.y, val.x, val.y, out.classes);
  report_test(out, out.probe.model, test);
  out.fit = fit.x.size(0);
  out.val = val.x.size(0);
  return out;
}

}  // namespace mmcl::eval

#include "mmcl/eval/probe.h"

#include <numeric>
#include <random>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/eval/embed.h"

namespace mmcl::eval {
namespace {

struct Features {
  at::Tensor x, y;
  std::vector<std::string> label_names;
};

Features features(const run::Run& run, const std::string& path) {
  const data::Manifest manifest = read_labelled(run.config.eval, run.config.data, path);
  const LabelledEmbeddings emb = embed_labelled(run, manifest);
  return Features{emb.x, emb.y, manifest.label_names};
}

}  // namespace

ProbeReport probe_checkpoint(const run::Run& run) {
  const config::RunConfig& c = run.config;
  const Features train = features(run, c.eval.train);
  const Features test = features(run, c.eval.data);
  Features fit = train, val;
  if (!c.eval.val.empty()) {
    val = features(run, c.eval.val);
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
  if (train.label_names != test.label_names)
    throw ConfigError(str_cat(c.eval.data, ": its class names differ from those of ", c.eval.train));
  ProbeReport out;
  out.classes =
      std::max({train.y.max().item<int64_t>(), test.y.max().item<int64_t>(), val.y.max().item<int64_t>()}) + 1;
  out.probe = linear_probe(fit.x, fit.y, val.x, val.y, out.classes);
  out.test = classification_metrics(out.probe.model.logits(test.x), test.y);
  out.fit = fit.x.size(0);
  out.val = val.x.size(0);
  return out;
}

}  // namespace mmcl::eval

// mmcl linear-probe: logistic regression on the frozen image embeddings of a checkpoint
// (Radford et al. 2021, Appendix A.3): fit on eval.train, choose the L2 strength on eval.val, and
// report top-1 on eval.data.

#include <cstdio>
#include <numeric>
#include <random>

#include <ATen/ATen.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/eval/logistic.h"
#include "mmcl/eval/metrics.h"

namespace mmcl::cli {
namespace {

struct Features {
  at::Tensor x, y;
  std::vector<std::string> label_names;
};

class LinearProbe : public EvalCommand {
 public:
  std::string name() const override { return "linear-probe"; }
  std::string summary() const override { return "Logistic regression on frozen image features of a checkpoint"; }

 protected:
  std::vector<std::string> required_files() const override { return {"eval.checkpoint", "eval.train", "eval.data"}; }

  EvalOutput evaluate(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt) override {
    const Features train = features(c, m, rt, c.eval.train);
    const Features test = features(c, m, rt, c.eval.data);
    Features fit = train, val;
    if (!c.eval.val.empty()) {
      val = features(c, m, rt, c.eval.val);
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
    const int64_t classes =
        std::max({train.y.max().item<int64_t>(), test.y.max().item<int64_t>(), val.y.max().item<int64_t>()}) + 1;
    const eval::ProbeResult probe = eval::linear_probe(fit.x, fit.y, val.x, val.y, classes);
    const auto metrics = eval::classification_metrics(probe.model.logits(test.x), test.y);

    EvalOutput out;
    out.results = {{"top1", metrics.top1},
                   {"top5", metrics.top5},
                   {"samples", metrics.samples},
                   {"classes", classes},
                   {"l2", probe.l2},
                   {"val_accuracy", probe.val_accuracy},
                   {"sweep", {{"l2", probe.sweep_l2}, {"val_accuracy", probe.sweep_val_accuracy}}},
                   {"per_class", metrics.per_class},
                   {"confusion", metrics.confusion}};
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "linear probe: %lld training, %lld validation, %lld test images, %lld classes\n"
                  "chosen l2 %.0e (validation top-1 %.2f%%)\n"
                  "test top-1 %.2f%%  top-5 %.2f%%\n",
                  static_cast<long long>(fit.x.size(0)), static_cast<long long>(val.x.size(0)),
                  static_cast<long long>(metrics.samples), static_cast<long long>(classes), probe.l2,
                  100 * probe.val_accuracy, 100 * metrics.top1, 100 * metrics.top5);
    out.summary = buf;
    return out;
  }

 private:
  Features features(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt, const std::string& path) {
    const data::Manifest manifest = eval::read_labelled(c, path);
    const eval::LabelledEmbeddings emb = eval::embed_labelled(c, m, manifest, rt.device);
    Features f;
    f.label_names = manifest.label_names;
    f.x = emb.x;
    f.y = emb.y;
    return f;
  }
};

}  // namespace

std::unique_ptr<Command> make_linear_probe() { return std::make_unique<LinearProbe>(); }

}  // namespace mmcl::cli

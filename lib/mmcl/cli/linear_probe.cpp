// mmcl linear-probe: logistic regression on the frozen embeddings of a checkpoint (eval/probe.h); this
// file formats the result.

#include "mmcl/cli/eval_command.h"
#include "mmcl/eval/embed.h"
#include "mmcl/eval/probe.h"

namespace mmcl::cli {
namespace {

class LinearProbe : public EvalCommand {
 public:
  std::string name() const override { return "linear-probe"; }
  std::string summary() const override { return "Logistic regression on frozen image features of a checkpoint"; }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const eval::ProbeReport r = eval::probe_checkpoint(run);
    const eval::ProbeResult& p = r.probe;
    const eval::ClassificationMetrics& m = r.test;
    EvalOutput out;
    out.results = {{"top1", m.top1},
                   {"top5", m.top5},
                   {"samples", m.samples},
                   {"classes", r.classes},
                   {"l2", p.l2},
                   {"val_accuracy", p.val_accuracy},
                   {"sweep", {{"l2", p.sweep_l2}, {"val_accuracy", p.sweep_val_accuracy}}},
                   {"per_class", m.per_class},
                   {"confusion", m.confusion}};
    const std::string what = plural_of(eval::eval_modality(run));
    out.summary = format_line("linear probe: %lld training, %lld validation, %lld test %s, %lld classes\n",
                              static_cast<long long>(r.fit), static_cast<long long>(r.val),
                              static_cast<long long>(m.samples), what.c_str(), static_cast<long long>(r.classes)) +
                  format_line("chosen l2 %.0e (validation top-1 %.2f%%)\n", p.l2, 100 * p.val_accuracy) +
                  format_line("test top-1 %.2f%%  top-5 %.2f%%\n", 100 * m.top1, 100 * m.top5);
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_linear_probe() { return std::make_unique<LinearProbe>(); }

}  // namespace mmcl::cli

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
    const config::RunConfig& c = run.config;
    const eval::ProbeReport r = eval::probe_checkpoint(run);
    const eval::ProbeResult& p = r.probe;
    const bool sgd = c.eval.probe.method == ProbeMethod::sgd;
    const std::string score = r.multi_label ? "mAP" : "top-1";
    EvalOutput out;
    out.results = {{"method", name_of(c.eval.probe.method)},
                   {"classes", r.classes},
                   {"views", {c.eval.views[0], c.eval.views[1]}}};
    if (sgd) {
      out.results["epochs"] = c.eval.probe.epochs;
      out.results["lr"] = c.eval.probe.lr;
      out.results["weight_decay"] = c.eval.probe.weight_decay;
      out.results["augment"] = c.eval.probe.augment;
    } else {
      out.results["l2"] = p.l2;
      out.results["val_accuracy"] = p.val_accuracy;
      out.results["sweep"] = {{"l2", p.sweep_l2}, {"val_accuracy", p.sweep_val_accuracy}};
    }
    int64_t samples = 0;
    std::string result;
    if (r.multi_label) {
      const eval::MultiLabelMetrics& m = r.test_multi;
      samples = m.samples;
      out.results["mAP"] = m.map;
      out.results["mean_auc"] = m.mean_auc;
      out.results["d_prime"] = m.d_prime;
      out.results["ap"] = m.ap;
      out.results["auc"] = m.auc;
      result = format_line("test mAP %.2f%%  AUC %.4f  d-prime %.3f\n", 100 * m.map, m.mean_auc, m.d_prime);
    } else {
      const eval::ClassificationMetrics& m = r.test;
      samples = m.samples;
      out.results["top1"] = m.top1;
      out.results["top5"] = m.top5;
      out.results["per_class"] = m.per_class;
      out.results["confusion"] = m.confusion;
      result = format_line("test top-1 %.2f%%  top-5 %.2f%%\n", 100 * m.top1, 100 * m.top5);
    }
    out.results["samples"] = samples;
    const std::string what = plural_of(eval::eval_modality(run));
    out.summary = format_line("linear probe (%s): %lld training, %lld validation, %lld test %s, %lld classes\n",
                              name_of(c.eval.probe.method).c_str(), static_cast<long long>(r.fit),
                              static_cast<long long>(r.val), static_cast<long long>(samples), what.c_str(),
                              static_cast<long long>(r.classes)) +
                  (sgd ? format_line("SGD %lld epochs, lr %g, weight decay %g%s\n",
                                     static_cast<long long>(c.eval.probe.epochs), c.eval.probe.lr,
                                     c.eval.probe.weight_decay, c.eval.probe.augment ? ", augmented inputs" : "")
                       : format_line("chosen l2 %.0e (validation %s %.2f%%)\n", p.l2, score.c_str(), 100 * p.val_accuracy)) +
                  result;
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_linear_probe() { return std::make_unique<LinearProbe>(); }

}  // namespace mmcl::cli

// mmcl zeroshot: zero-shot classification of eval.data with a checkpoint (eval/zeroshot.h); this file
// formats the result.

#include <cmath>
#include <cstdio>
#include <sstream>

#include "mmcl/cli/eval_command.h"
#include "mmcl/eval/embed.h"
#include "mmcl/eval/zeroshot.h"

namespace mmcl::cli {
namespace {

class Zeroshot : public EvalCommand {
 public:
  std::string name() const override { return "zeroshot"; }
  std::string summary() const override { return "Zero-shot classification of eval.data with a checkpoint"; }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const config::EvalConfig& e = run.config.eval;
    const eval::ZeroshotResult z = eval::zeroshot(run);
    const eval::ClassificationMetrics& m = z.metrics;
    EvalOutput out;
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t k = 0; k < z.classes.size(); ++k)
      per_class[z.classes[k]] = std::isnan(m.per_class[k]) ? nlohmann::json() : nlohmann::json(m.per_class[k]);
    out.results = {{"top1", m.top1},         {"top5", m.top5},           {"samples", m.samples},
                   {"classes", z.classes},   {"templates", e.templates}, {"per_class", per_class},
                   {"confusion", m.confusion}, {"skipped", z.skipped}};
    std::ostringstream s;
    s << format_line("zero-shot on %s: %lld %s, %zu classes, %zu templates\n", e.data.c_str(),
                     static_cast<long long>(m.samples), plural_of(eval::eval_modality(run)).c_str(), z.classes.size(),
                     e.templates.size())
      << format_line("top-1 %.2f%%  top-5 %.2f%%  (chance %.2f%%)\n", 100 * m.top1, 100 * m.top5,
                     100.0 / static_cast<double>(z.classes.size()))
      << "per class:\n";
    for (size_t k = 0; k < z.classes.size(); ++k)
      s << format_line("  %-24s %6.2f%%\n", z.classes[k].c_str(), 100 * m.per_class[k]);
    out.summary = s.str();
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_zeroshot() { return std::make_unique<Zeroshot>(); }

}  // namespace mmcl::cli

// mmcl zeroshot: classify the images of eval.data by comparing them with the text embeddings of
// their class names in every template (CLIP, Radford et al. 2021, Sec. 3.1.4: prompt ensembling).

#include <cmath>
#include <cstdio>
#include <sstream>

#include <ATen/ATen.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/eval/metrics.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::cli {
namespace {

std::string fill(const std::string& templ, const std::string& name) {
  std::string out = templ;
  for (size_t at = out.find("{}"); at != std::string::npos; at = out.find("{}", at + name.size()))
    out.replace(at, 2, name);
  return out;
}

class Zeroshot : public EvalCommand {
 public:
  std::string name() const override { return "zeroshot"; }
  std::string summary() const override { return "Zero-shot classification of eval.data with a checkpoint"; }

 protected:
  EvalOutput evaluate(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt) override {
    const auto& e = c.eval;
    const data::Manifest manifest = eval::read_labelled(c, e.data);
    std::vector<std::string> classes = e.classnames.empty() ? manifest.label_names : e.classnames;
    if (classes.empty())
      throw ConfigError(str_cat(e.data, ": labels are numbers, so eval.classnames must name the classes"));
    int64_t max_label = 0;
    for (const auto& r : manifest.records) max_label = std::max(max_label, r.label);
    if (max_label >= static_cast<int64_t>(classes.size()))
      throw ConfigError(str_cat(e.data, ": label ", max_label, " but eval.classnames has ", classes.size(), " names"));
    MMCL_CHECK(m.tokenizer, "the checkpoint has no tokenizer to embed class names with");

    // Classifier: per class, the mean of its normalised prompt embeddings, normalised again.
    const int64_t ctx = m.config.model.text.context_length;
    std::vector<at::Tensor> weights;
    for (const auto& cls : classes) {
      std::vector<std::string> prompts;
      for (const auto& t : e.templates) prompts.push_back(fill(t, cls));
      const at::Tensor emb = eval::embed_texts(*m.model, *m.tokenizer, prompts, ctx, e.batch_size, rt.device, m.precision).mean(0);
      weights.push_back(emb / emb.norm());
    }
    const at::Tensor classifier = at::stack(weights);  // [C, D]

    const eval::LabelledEmbeddings img = eval::embed_labelled(c, m, manifest, rt.device);
    const auto metrics = eval::classification_metrics(at::matmul(img.x, classifier.t()), img.y);

    EvalOutput out;
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t k = 0; k < classes.size(); ++k)
      per_class[classes[k]] = std::isnan(metrics.per_class[k]) ? nlohmann::json() : nlohmann::json(metrics.per_class[k]);
    out.results = {{"top1", metrics.top1},   {"top5", metrics.top5},       {"samples", metrics.samples},
                   {"classes", classes},      {"templates", e.templates},   {"per_class", per_class},
                   {"confusion", metrics.confusion}, {"skipped", manifest.records.size() - static_cast<size_t>(img.x.size(0))}};
    std::ostringstream s;
    char line[160];
    std::snprintf(line, sizeof line, "zero-shot on %s: %lld images, %zu classes, %zu templates\n", e.data.c_str(),
                  static_cast<long long>(metrics.samples), classes.size(), e.templates.size());
    s << line;
    std::snprintf(line, sizeof line, "top-1 %.2f%%  top-5 %.2f%%  (chance %.2f%%)\n", 100 * metrics.top1,
                  100 * metrics.top5, 100.0 / static_cast<double>(classes.size()));
    s << line << "per class:\n";
    for (size_t k = 0; k < classes.size(); ++k) {
      std::snprintf(line, sizeof line, "  %-24s %6.2f%%\n", classes[k].c_str(), 100 * metrics.per_class[k]);
      s << line;
    }
    out.summary = s.str();
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_zeroshot() { return std::make_unique<Zeroshot>(); }

}  // namespace mmcl::cli

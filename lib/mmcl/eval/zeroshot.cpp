#include "mmcl/eval/zeroshot.h"

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/eval/embed.h"

namespace mmcl::eval {

std::string fill_template(const std::string& templ, const std::string& name) {
  std::string out = templ;
  for (size_t at = out.find("{}"); at != std::string::npos; at = out.find("{}", at + name.size())) out.replace(at, 2, name);
  return out;
}

ZeroshotResult zeroshot(const run::Run& run) {
  const config::EvalConfig& e = run.config.eval;
  const data::Manifest manifest = read_labelled(e, run.config.data, e.data);
  ZeroshotResult out;
  out.classes = e.classnames.empty() ? manifest.label_names : e.classnames;
  if (out.classes.empty())
    throw ConfigError(str_cat(e.data, ": labels are numbers, so eval.classnames must name the classes"));
  int64_t max_label = 0;
  for (size_t i = 0; i < manifest.records.size(); ++i) max_label = std::max(max_label, manifest.records.label(i));
  if (max_label >= static_cast<int64_t>(out.classes.size()))
    throw ConfigError(str_cat(e.data, ": label ", max_label, " but eval.classnames has ", out.classes.size(), " names"));
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to embed class names with");

  // Classifier: per class, the mean of its normalised prompt embeddings, normalised again.
  const int64_t ctx = run.model_config.text.context_length;
  const EmbedOptions text_options = embed_options(run, Modality::text);
  std::vector<at::Tensor> weights;
  for (const auto& cls : out.classes) {
    std::vector<std::string> prompts;
    for (const auto& t : e.templates) prompts.push_back(fill_template(t, cls));
    const at::Tensor emb = embed_texts(*run.model, *run.tokenizer, prompts, ctx, text_options).mean(0);
    weights.push_back(emb / emb.norm());
  }
  const at::Tensor classifier = at::stack(weights);  // [C, D]

  const LabelledEmbeddings inputs = embed_labelled(run, manifest);
  out.metrics = classification_metrics(at::matmul(inputs.x, classifier.t()), inputs.y);
  out.skipped = static_cast<int64_t>(manifest.records.size()) - inputs.x.size(0);
  return out;
}

}  // namespace mmcl::eval

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

at::Tensor class_embeddings(const run::Run& run, const std::vector<std::string>& classes) {
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to embed class names with");
  const int64_t ctx = run.model_config.text.context_length;
  const EmbedOptions text_options = embed_options(run, Modality::text);
  std::vector<at::Tensor> weights;
  for (const auto& cls : classes) {
    std::vector<std::string> prompts;
    for (const auto& t : run.config.eval.templates) prompts.push_back(fill_template(t, cls));
    const at::Tensor emb = embed_texts(*run.model, *run.tokenizer, prompts, ctx, text_options).mean(0);
    weights.push_back(emb / emb.norm());
  }
  return at::stack(weights);
}

ClassifyResult classify_images(const run::Run& run, const std::vector<std::string>& images,
                               const std::vector<std::string>& classes, int64_t top) {
  if (classes.empty()) throw ConfigError("classify: no classes given (--classes a,b,c or --classes-file FILE)");
  if (!run.can->has(Modality::image) || !run.can->has(Modality::text))
    throw ConfigError(str_cat("classify: model ", run.model_config.name, " does not embed images and texts"));
  const at::Tensor classifier = class_embeddings(run, classes);
  const ImageEmbeddings emb = embed_image_files(run, images);
  // CLIP's probabilities: softmax over classes of exp(t) x cosine (the model's own learned scale).
  double scale = 100.0;
  if (const auto* p = run.model->named_parameters().find("logit_scale")) scale = p->exp().item<double>();
  const at::Tensor similarity = at::matmul(emb.embeddings, classifier.to(emb.embeddings.device()).t()).to(at::kDouble).cpu();
  const at::Tensor probability = at::softmax(similarity * scale, 1);
  ClassifyResult out;
  std::vector<bool> read(images.size(), false);
  for (size_t r = 0; r < emb.indices.size(); ++r) {
    const auto i = static_cast<size_t>(emb.indices[r]);
    read[i] = true;
    ImageClasses c;
    c.image = images[i];
    const at::Tensor p = probability[static_cast<int64_t>(r)];
    const auto [values, order] = p.topk(std::min<int64_t>(top, p.size(0)));
    for (int64_t k = 0; k < values.size(0); ++k)
      c.top.emplace_back(classes[static_cast<size_t>(order[k].item<int64_t>())], values[k].item<double>());
    const at::Tensor row = similarity[static_cast<int64_t>(r)].contiguous();
    c.similarity.assign(row.data_ptr<double>(), row.data_ptr<double>() + row.size(0));
    out.images.push_back(std::move(c));
  }
  for (size_t i = 0; i < images.size(); ++i)
    if (!read[i]) out.skipped.push_back(images[i]);
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
  const at::Tensor classifier = class_embeddings(run, out.classes);  // [C, D]
  const LabelledEmbeddings inputs = embed_labelled(run, manifest);
  out.metrics = classification_metrics(at::matmul(inputs.x, classifier.t()), inputs.y);
  out.skipped = static_cast<int64_t>(manifest.records.size()) - inputs.x.size(0);
  return out;
}

}  // namespace mmcl::eval

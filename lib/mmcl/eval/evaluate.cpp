#include "mmcl/eval/evaluate.h"

#include <algorithm>
#include <filesystem>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "mmcl/config/load.h"
#include "mmcl/core/log.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/audio.h"
#include "mmcl/data/video.h"
#include "mmcl/data/loader.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/text/factory.h"
#include "mmcl/text/tokenizer.h"
#include "mmcl/train/checkpoint.h"

namespace mmcl::eval {

std::string resolve_checkpoint(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  const fs::path folder = fs::is_directory(fs::path(path) / "checkpoints", ec) ? fs::path(path) / "checkpoints" : fs::path(path);
  const auto latest = train::CheckpointDir(folder).latest();
  MMCL_CHECK(latest, path, ": no checkpoint in this folder (no checkpoints/latest)");
  return latest->string();
}

EvalModel load_for_eval(const std::string& path, const config::RunConfig& current, const c10::Device& device) {
  if (path.empty()) {
    // No checkpoint: this config's model with pretrained weights, and this config's tokenizer.
    MMCL_CHECK(!current.model.pretrained.empty(), "eval.checkpoint or model.pretrained must be set");
    if (current.tokenizer.name != "clip_bpe")
      throw ConfigError("tokenizer.name: pretrained CLIP weights read CLIP's BPE ids; set tokenizer.name: clip_bpe "
                        "and tokenizer.vocab");
    EvalModel out;
    out.config = current;
    out.precision = train::resolve_precision(current.runtime.precision, device);
    out.model = models::make_model(current.model);
    models::load_pretrained(*out.model, current.model.pretrained);
    train::place_module(*out.model, device, out.precision.param_dtype());
    out.model->eval();
    if (out.model->reads_text()) out.tokenizer = text::restore_tokenizer(current.tokenizer, "", current.tokenizer.vocab);
    return out;
  }
  const std::string checkpoint = resolve_checkpoint(path);
  const train::CheckpointMeta meta = train::checkpoint_meta(checkpoint);
  EvalModel out;
  out.config = config::load_resolved_config(meta.config_yaml, checkpoint);
  out.precision = train::resolve_precision(current.runtime.precision, device);
  out.model = models::make_model(out.config.model);
  const train::CheckpointInfo info = train::load_checkpoint(checkpoint, *out.model, nullptr);
  train::place_module(*out.model, device, out.precision.param_dtype());
  out.model->eval();
  if (out.model->reads_text())
    out.tokenizer = text::restore_tokenizer(out.config.tokenizer, meta.tokenizer, current.tokenizer.vocab);
  spdlog::info("loaded {} (step {}, model {})", checkpoint, info.state.step, out.config.model.name);
  return out;
}

data::Manifest read_labelled(const config::RunConfig& c, const std::string& path) {
  return data::read_manifest(path, data::ManifestColumns{c.eval.image_key, "", c.eval.label_key, c.data.separator, ""});
}

std::string eval_modality(const config::RunConfig& c, const models::ContrastiveModel& model) {
  return c.eval.modality == "auto" ? model.input_modality() : c.eval.modality;
}

std::shared_ptr<const data::Dataset> labelled_inputs(const config::RunConfig& c, const EvalModel& m,
                                                     const data::Manifest& manifest, bool train) {
  const std::string modality = eval_modality(c, *m.model);
  if (modality == "audio") {
    const data::InputSpec spec = m.model->input_spec();
    if (spec.audio_samples <= 0)
      throw ConfigError(str_cat("eval.modality: audio, but model ", m.config.model.name, " reads no audio"));
    data::AudioTransform t;
    t.samples = spec.audio_samples;
    t.rate = spec.audio_rate;
    t.train = train;
    t.time_budget_s = c.data.video.time_budget_s;
    return std::make_shared<data::AudioDataset>(manifest, t);
  }
  if (modality == "video") {
    data::InputSpec spec = m.model->input_spec();
    spec.video_views = 1;
    spec.audio_samples = 0;  // the clips alone
    spec.tokenizer = nullptr;
    return std::make_shared<data::VideoDataset>(manifest, data::video_transform(c.data, spec, train));
  }
  return std::make_shared<data::ImageTextDataset>(
      manifest, data::image_transform(c.data.image, m.config.model.vision.image_size, train), nullptr, 0);
}

LabelledEmbeddings embed_labelled(const config::RunConfig& c, EvalModel& m, const data::Manifest& manifest,
                                  const c10::Device& device) {
  const std::string modality = eval_modality(c, *m.model);
  const auto inputs = labelled_inputs(c, m, manifest, /*train=*/false);
  const ImageEmbeddings emb = embed_images(*m.model, inputs, c.eval.batch_size, c.data.workers, device, m.precision, modality);
  std::vector<int64_t> labels;
  for (const int64_t i : emb.indices) labels.push_back(manifest.records[static_cast<size_t>(i)].label);
  spdlog::info("{}: {} {}s embedded", manifest.path, emb.embeddings.size(0), modality);
  return LabelledEmbeddings{emb.embeddings, at::tensor(labels, at::kLong)};
}

ImageEmbeddings embed_images(models::ContrastiveModel& model, std::shared_ptr<const data::Dataset> images,
                             int64_t batch_size, int64_t workers, const c10::Device& device,
                             const train::Precision& precision, const std::string& modality, const std::string& key) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = workers;
  o.shuffle = false;
  o.drop_last = false;
  data::Loader loader(std::move(images), o);
  loader.start_epoch(0);
  torch::NoGradGuard no_grad;
  const train::AutocastGuard autocast(precision, device);
  std::vector<at::Tensor> parts;
  std::vector<int64_t> indices;
  while (auto batch = loader.next()) {
    data::Batch b;
    const auto input = [&](const at::Tensor& x) { return train::to_param_dtype(x.to(device), precision); };
    if (modality == "video") b.video = input(batch->video);
    else if (modality == "audio") b.audio = input(batch->audio);
    else b.image = input(batch->image);
    b.indices = batch->indices;
    parts.push_back(model.forward(b).at(key.empty() ? modality : key).to(at::kFloat).cpu());
    indices.insert(indices.end(), batch->indices.begin(), batch->indices.end());
  }
  // The loader stands a later sample in for an unreadable one; keep each sample once, in order.
  const at::Tensor all = at::cat(parts);
  std::vector<int64_t> rows;
  ImageEmbeddings out;
  std::vector<char> taken(indices.size() ? static_cast<size_t>(*std::max_element(indices.begin(), indices.end())) + 1 : 0, 0);
  for (size_t r = 0; r < indices.size(); ++r) {
    if (taken[static_cast<size_t>(indices[r])]) continue;
    taken[static_cast<size_t>(indices[r])] = 1;
    rows.push_back(static_cast<int64_t>(r));
    out.indices.push_back(indices[r]);
  }
  std::vector<size_t> order(out.indices.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return out.indices[a] < out.indices[b]; });
  std::vector<int64_t> sorted_rows, sorted_indices;
  for (size_t i : order) sorted_rows.push_back(rows[i]), sorted_indices.push_back(out.indices[i]);
  out.indices = sorted_indices;
  out.embeddings = all.index_select(0, at::tensor(sorted_rows, at::kLong));
  if (loader.skipped() > 0)
    spdlog::warn("{} unreadable images left out of the evaluation ({} evaluated)", loader.skipped(), out.indices.size());
  return out;
}

at::Tensor embed_texts(models::ContrastiveModel& model, const text::Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t context_length, int64_t batch_size,
                       const c10::Device& device, const train::Precision& precision) {
  torch::NoGradGuard no_grad;
  const train::AutocastGuard autocast(precision, device);
  std::vector<at::Tensor> parts;
  for (size_t begin = 0; begin < texts.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(texts.size(), begin + static_cast<size_t>(batch_size));
    data::Batch b;
    b.text = tokenizer.tokenize(std::vector<std::string>(texts.begin() + begin, texts.begin() + end), context_length)
                 .to(device);
    for (size_t i = begin; i < end; ++i) b.indices.push_back(static_cast<int64_t>(i));
    parts.push_back(model.forward(b).at("text").to(at::kFloat).cpu());
  }
  return at::cat(parts);
}

}  // namespace mmcl::eval

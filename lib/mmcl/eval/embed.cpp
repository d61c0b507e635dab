#include "mmcl/eval/embed.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/module.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/audio_windows.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/loader.h"
#include "mmcl/data/video_clips.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::eval {

EmbedOptions embed_options(const run::Run& run, Modality modality) {
  EmbedOptions o;
  o.batch_size = run.config.eval.batch_size;
  o.workers = run.config.data.workers;
  o.device = run.device;
  o.precision = run.precision;
  o.modality = modality;
  o.views = eval_views(run.config.eval, modality);
  return o;
}

int64_t eval_views(const config::EvalConfig& eval, Modality modality, bool train) {
  if (train) return 1;
  if (modality == Modality::video) return eval.views[0] * eval.views[1];
  if (modality == Modality::audio) return eval.views[0];
  return 1;
}

data::Manifest read_labelled(const config::EvalConfig& e, const config::DataConfig& d, const std::string& path) {
  data::ManifestColumns columns = eval_columns(e, d);
  columns.caption = "";
  columns.label = e.label_key;
  columns.multi_label = e.multi_label;
  if (!e.label_separator.empty()) columns.label_separator = e.label_separator[0];
  return data::read_manifest(path, columns);
}

data::ManifestColumns eval_columns(const config::EvalConfig& e, const config::DataConfig& d) {
  data::ManifestColumns columns{e.image_key, e.caption_key, "", d.separator, ""};
  columns.section = "eval";
  return columns;
}

Modality eval_modality(const run::Run& run) {
  switch (run.config.eval.modality) {
    case EvalModality::image: return Modality::image;
    case EvalModality::video: return Modality::video;
    case EvalModality::audio: return Modality::audio;
    case EvalModality::automatic: break;
  }
  return run.can->eval_input;
}

std::shared_ptr<const data::Dataset> labelled_inputs(const run::Run& run, const data::Manifest& manifest, bool train,
                                                     std::optional<Modality> modality) {
  const config::RunConfig& c = run.config;
  switch (modality.value_or(eval_modality(run))) {
    case Modality::audio: {
      if (run.spec.audio_samples <= 0)
        throw ConfigError(str_cat("eval.modality: audio, but model ", run.model_config.name, " reads no audio"));
      data::AudioTransform t;
      t.samples = run.spec.audio_samples;
      t.rate = run.spec.audio_rate;
      t.train = train;
      t.windows = c.eval.views[0];
      t.time_budget_s = c.data.video.time_budget_s;
      return std::make_shared<data::AudioDataset>(manifest, t);
    }
    case Modality::video: {
      data::InputSpec spec = run.spec;
      spec.video_views = 1;
      spec.audio_samples = 0;  // the clips alone
      spec.tokenizer = nullptr;
      data::VideoTransform t = data::video_transform(c.data, spec, train);
      t.clips = c.eval.views[0];
      t.crops = c.eval.views[1];
      return std::make_shared<data::VideoDataset>(manifest, t);
    }
    case Modality::image:
    case Modality::text: break;
  }
  // Training a probe or fine-tuning: crop and flip only, no colour augmentation (SimCLR's, CVRL's).
  data::ImageTransform t = data::image_transform(c.data.image, run.model_config.vision.image_size, train);
  t.colour = {};
  return std::make_shared<data::ImageTextDataset>(manifest, t, nullptr, 0);
}

int64_t class_count(const data::Manifest& manifest) {
  if (!manifest.label_names.empty()) return static_cast<int64_t>(manifest.label_names.size());
  int64_t classes = 0;
  for (size_t i = 0; i < manifest.records.size(); ++i) classes = std::max(classes, manifest.records.label(i) + 1);
  for (const auto& set : manifest.label_sets)
    for (int32_t l : set) classes = std::max<int64_t>(classes, l + 1);
  return classes;
}

LabelledEmbeddings embed_labelled(const run::Run& run, const data::Manifest& manifest, bool train, int64_t epoch,
                                  int64_t classes) {
  const Modality modality = eval_modality(run);
  EmbedOptions options = embed_options(run, modality);
  options.epoch = epoch;
  options.views = eval_views(run.config.eval, modality, train);
  const ImageEmbeddings emb = embed_inputs(*run.model, labelled_inputs(run, manifest, train), options);
  spdlog::info("{}: {} {} embedded", manifest.path, emb.embeddings.size(0), plural_of(modality));
  if (!manifest.label_sets.empty()) {
    if (classes <= 0) classes = class_count(manifest);
    at::Tensor y = at::zeros({static_cast<int64_t>(emb.indices.size()), classes}, at::kFloat);
    for (size_t r = 0; r < emb.indices.size(); ++r)
      for (int32_t l : manifest.label_sets[static_cast<size_t>(emb.indices[r])])
        if (l < classes) y[static_cast<int64_t>(r)][l] = 1;
    return LabelledEmbeddings{emb.embeddings, y};
  }
  std::vector<int64_t> labels;
  for (const int64_t i : emb.indices) labels.push_back(manifest.records.label(static_cast<size_t>(i)));
  return LabelledEmbeddings{emb.embeddings, at::tensor(labels, at::kLong)};
}

ImageEmbeddings embed_inputs(models::ContrastiveModel& model, std::shared_ptr<const data::Dataset> inputs,
                             const EmbedOptions& options) {
  const c10::Device& device = options.device;
  // Several views per sample: the loader's batches hold about batch_size views.
  const int64_t one_view_dims = options.modality == Modality::video ? 4 : options.modality == Modality::audio ? 1 : 3;
  data::LoaderOptions o;
  o.batch_size = std::max<int64_t>(1, options.batch_size / options.views);
  o.workers = options.workers;
  o.shuffle = false;
  o.drop_last = false;
  data::Loader loader(std::move(inputs), o);
  loader.start_epoch(options.epoch);
  std::vector<at::Tensor> parts;
  std::vector<int64_t> indices;
  const std::string key = options.key.empty() ? name_of(options.modality) : options.key;
  while (auto batch = loader.next()) {
    {
      // No autograd at all (no version counters, no views tracked); the functional ops below, outside
      // the mode, turn the inference tensors into ordinary ones.
      const c10::InferenceMode inference;
      const AutocastGuard autocast(options.precision, device);
      const at::Tensor& in = batch->input(options.modality);
      const bool multiview = in.dim() == one_view_dims + 2;
      const at::Tensor flat = multiview ? in.flatten(0, 1) : in;
      std::vector<at::Tensor> rows;
      for (int64_t begin = 0; begin < flat.size(0); begin += options.batch_size) {
        data::Batch b;
        b.input(options.modality) =
            to_param_dtype(flat.slice(0, begin, std::min(flat.size(0), begin + options.batch_size)).to(device),
                           options.precision);
        rows.push_back(model.forward(b).at(key).to(at::kFloat).cpu());
      }
      at::Tensor e = at::cat(rows);
      if (multiview) e = e.view({in.size(0), in.size(1), e.size(1)}).mean(1);
      parts.push_back(e);
    }
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
    spdlog::warn("{} unreadable {} left out of the evaluation ({} evaluated)", loader.skipped(), plural_of(options.modality),
                 out.indices.size());
  return out;
}

at::Tensor embed_texts(models::ContrastiveModel& model, const text::Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t context_length, const EmbedOptions& options) {
  const c10::Device& device = options.device;
  const size_t batch_size = static_cast<size_t>(options.batch_size);
  std::vector<at::Tensor> parts;
  for (size_t begin = 0; begin < texts.size(); begin += batch_size) {
    const size_t end = std::min(texts.size(), begin + batch_size);
    data::Batch b;
    for (size_t i = begin; i < end; ++i) b.indices.push_back(static_cast<int64_t>(i));
    const c10::InferenceMode inference;  // as in embed_inputs
    const AutocastGuard autocast(options.precision, device);
    b.text = tokenizer.tokenize(std::vector<std::string>(texts.begin() + begin, texts.begin() + end), context_length)
                 .to(device);
    parts.push_back(model.forward(b).at("text").to(at::kFloat).cpu());
  }
  return at::cat(parts);
}

ManifestEmbeddings embed_manifest(const run::Run& run) {
  const config::EvalConfig& e = run.config.eval;
  const data::Manifest rows =
      data::read_manifest(e.data, eval_columns(e, run.config.data));
  const int64_t n = static_cast<int64_t>(rows.records.size());
  if (n == 0) throw ConfigError(str_cat(e.data, ": no rows to embed"));
  const int64_t ctx = run.model_config.text.context_length;

  auto dataset = std::make_shared<data::ImageTextDataset>(
      rows, data::image_transform(run.config.data.image, run.model_config.vision.image_size, false), nullptr, ctx);
  const ImageEmbeddings img = embed_inputs(*run.model, dataset, embed_options(run, Modality::image));
  ManifestEmbeddings out;
  out.images = at::zeros({n, img.embeddings.size(1)}, at::kFloat);
  out.valid = at::zeros({n}, at::kByte);
  const at::Tensor index = at::tensor(img.indices, at::kLong);
  out.images.index_copy_(0, index, img.embeddings.to(at::kFloat));
  out.valid.index_fill_(0, index, 1);
  out.readable = static_cast<int64_t>(img.indices.size());
  for (const auto& r : rows.records) out.image_paths.push_back(r.image);
  if (e.caption_key.empty()) return out;
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to embed captions with");
  for (int64_t r = 0; r < n; ++r)
    for (const auto& t : rows.records[static_cast<size_t>(r)].captions) out.captions.push_back(t), out.caption_row.push_back(r);
  if (!out.captions.empty())
    out.texts = embed_texts(*run.model, *run.tokenizer, out.captions, ctx, embed_options(run, Modality::text));
  return out;
}

ImageEmbeddings embed_image_files(const run::Run& run, const std::vector<std::string>& files) {
  data::Manifest manifest;
  manifest.path = "command line";
  for (const std::string& f : files) manifest.records.push_back({f, {}, -1});
  return embed_inputs(*run.model, labelled_inputs(run, manifest, /*train=*/false, Modality::image),
                      embed_options(run, Modality::image));
}

}  // namespace mmcl::eval

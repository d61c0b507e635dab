// The dataset table: data.type -> factory.

#include "mmcl/core/braces.h"
#include "mmcl/core/log.h"
#include "mmcl/core/registry.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/synthetic.h"
#include "mmcl/data/video_clips.h"
#include "mmcl/data/webdataset.h"

namespace mmcl::data {
namespace {

ManifestColumns manifest_columns(const config::DataConfig& c) {
  return ManifestColumns{c.image_key, c.caption_key, "", c.separator, c.root};
}

WebDatasetOptions shard_options(const config::DataConfig& c) {
  WebDatasetOptions options;
  options.caption_field = c.caption_key;
  options.shuffle_buffer = c.shuffle_buffer;
  options.samples_per_epoch = c.samples_per_epoch;
  options.resampled = c.webdataset.resampled;
  return options;
}

// Streamed by default; indexed up front with data.webdataset.index.
std::shared_ptr<Dataset> open_shards(const config::DataConfig& c, const InputSpec& spec, bool train) {
  const ImageTransform transform = image_transform(c.image, spec.image_size, train);
  if (c.webdataset.index)
    return std::make_shared<WebDataset>(expand_braces(c.train), transform, spec.tokenizer, spec.context_length,
                                        shard_options(c));
  return std::make_shared<StreamedWebDataset>(expand_braces(c.train), transform, spec.tokenizer, spec.context_length,
                                              shard_options(c));
}

const Registry<DatasetFactory>& registry() {
  static const Registry<DatasetFactory> table(
      "data.type",
      {
          {"synthetic", "random image-text pairs, fixed per index (data.synthetic.size of them); for smoke runs",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t seed) -> std::shared_ptr<Dataset> {
             return std::make_shared<SyntheticDataset>(c.synthetic.size, spec, seed);
           },
           {.reads = {Modality::image, Modality::text}, .tokenizes = false, .source = DataSource::generated}},
          {"manifest", "images listed in a CSV/TSV or JSONL manifest (data.train), with captions for models that read "
                       "them, two augmented views each for simclr; images decoded with stb_image / libjpeg-turbo",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t) -> std::shared_ptr<Dataset> {
             // Captions only for a model that reads them (SimCLR's images need none).
             ManifestColumns columns = manifest_columns(c);
             if (!spec.tokenizer) columns.caption = "";
             return std::make_shared<ImageTextDataset>(read_manifest(c.train, columns),
                                                       image_transform(c.image, spec.image_size, /*train=*/true),
                                                       spec.tokenizer, spec.context_length,
                                                       c.views > 0 ? c.views : spec.image_views);
           },
           {.reads = {Modality::image, Modality::text}, .source = DataSource::manifest}},
          {"video",
           "video clips listed in a manifest (data.train, the data.image_key column), decoded with FFmpeg; two views "
           "per video for CVRL; with the soundtrack and the captions (data.caption_key) for VATT",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t) -> std::shared_ptr<Dataset> {
             // Captions only for a model that reads them (a tokenizer was made).
             const std::string captions = spec.tokenizer ? c.caption_key : "";
             return std::make_shared<VideoDataset>(
                 read_manifest(c.train, ManifestColumns{c.image_key, captions, "", c.separator, c.root}),
                 video_transform(c, spec, /*train=*/true));
           },
           {.reads = {Modality::video, Modality::audio, Modality::text}, .source = DataSource::manifest}},
          {"webdataset",
           "image-text pairs in webdataset .tar shards (data.train: brace patterns joined by '::'; local files, "
           "pipe:COMMAND or http(s) URLs), streamed through a shuffle buffer, split between processes and workers",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t) -> std::shared_ptr<Dataset> {
             return open_shards(c, spec, /*train=*/true);
           },
           {.reads = {Modality::image, Modality::text}, .source = DataSource::shards}},
      });
  return table;
}

}  // namespace

std::shared_ptr<Dataset> make_dataset(const config::DataConfig& config, const InputSpec& spec, uint64_t seed) {
  return registry().get(config.type)(config, spec, seed);
}

std::vector<std::string> training_captions(const config::DataConfig& c) {
  std::vector<std::string> captions;
  switch (dataset_capabilities(c.type).source) {
    case DataSource::generated: break;
    case DataSource::manifest:
      for (const Record& r : read_manifest(c.train, manifest_columns(c)).records)
        captions.insert(captions.end(), r.captions.begin(), r.captions.end());
      break;
    case DataSource::shards: {
      if (!c.webdataset.index) {
        for_each_caption(expand_braces(c.train), c.caption_key,
                         [&](std::string caption) { captions.push_back(std::move(caption)); });
        break;
      }
      const auto shards = std::make_shared<WebDataset>(expand_braces(c.train), ImageTransform{}, nullptr, 0, shard_options(c));
      for (int64_t i = 0; i < shards->size(); ++i) {
        try {
          for (std::string& caption : shards->captions(i)) captions.push_back(std::move(caption));
        } catch (const SampleError& e) {
          spdlog::warn("skipping a caption: {}", e.what());
        }
      }
      break;
    }
  }
  return captions;
}

}  // namespace mmcl::data

std::vector<mmcl::CatalogEntry> mmcl::dataset_catalog() { return data::registry().catalog(); }

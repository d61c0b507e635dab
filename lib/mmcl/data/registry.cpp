// The dataset table: data.type -> factory.

#include "mmcl/core/registry.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/synthetic.h"

namespace mmcl::data {
namespace {

const Registry<DatasetFactory>& registry() {
  static const Registry<DatasetFactory> table(
      "data.type",
      {
          {"synthetic", "random image-text pairs, fixed per index (data.synthetic.size of them); for smoke runs",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t seed) -> std::shared_ptr<Dataset> {
             return std::make_shared<SyntheticDataset>(c.synthetic.size, spec, seed);
           }},
          {"manifest", "image-text pairs listed in a CSV/TSV or JSONL manifest (data.train); images decoded with stb_image",
           [](const config::DataConfig& c, const InputSpec& spec, uint64_t) -> std::shared_ptr<Dataset> {
             ManifestColumns columns{c.image_key, c.caption_key, "", c.separator, c.root};
             return std::make_shared<ImageTextDataset>(read_manifest(c.train, columns),
                                                       image_transform(c.image, spec.image_size, /*train=*/true),
                                                       spec.tokenizer, spec.context_length);
           }},
      });
  return table;
}

}  // namespace

std::shared_ptr<Dataset> make_dataset(const config::DataConfig& config, const InputSpec& spec, uint64_t seed) {
  return registry().get(config.type)(config, spec, seed);
}

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace mmcl::data

std::vector<mmcl::CatalogEntry> mmcl::dataset_catalog() { return data::registry().catalog(); }

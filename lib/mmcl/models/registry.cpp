// The model table: model.name -> factory, with what each model reads, trains with and exports to.

#include <functional>

#include "mmcl/core/registry.h"
#include "mmcl/models/cvrl.h"
#include "mmcl/models/clip.h"
#include "mmcl/models/fdt.h"
#include "mmcl/models/simclr.h"
#include "mmcl/models/vatt.h"

namespace mmcl::models {
namespace {
using Factory = std::function<ModelPtr(const config::ModelConfig&)>;

const Registry<Factory>& registry() {
  static const Registry<Factory> table(
      "model.name",
      {
          {"clip", "CLIP (Radford et al. 2021): ViT or ModifiedResNet image tower + causal text transformer, open_clip "
                   "parameter names",
           [](const config::ModelConfig& c) -> ModelPtr { return std::make_shared<ClipImpl>(c); },
           {.reads = {Modality::image, Modality::text},
            .losses = {"infonce", "siglip"},
            .data = {"synthetic", "manifest", "webdataset"},
            .eval_input = Modality::image,
            .open_clip = true,
            .sections = {"vision", "text"}}},
          {"cvrl", "CVRL (Qian et al. 2021): a 3D ResNet video tower with an MLP projection head, trained by NT-Xent "
                   "between two clips of a video",
           [](const config::ModelConfig& c) -> ModelPtr { return std::make_shared<CvrlImpl>(c); },
           {.reads = {Modality::video},
            .views = 2,
            .losses = {"ntxent"},
            .data = {"video"},
            .eval_input = Modality::video,
            .sections = {"video", "cvrl"}}},
          {"fdt", "FDT (Chen et al. 2023): CLIP towers whose patch and word outputs weigh a shared bank of tokens "
                  "(model.fdt.*); the embedding is the weighted sum of the tokens",
           [](const config::ModelConfig& c) -> ModelPtr { return std::make_shared<FdtImpl>(c); },
           {.reads = {Modality::image, Modality::text},
            .losses = {"infonce", "siglip"},
            .data = {"synthetic", "manifest", "webdataset"},
            .eval_input = Modality::image,
            .sections = {"vision", "text", "fdt"}}},
          {"simclr", "SimCLR (Chen et al. 2020): a torchvision ResNet or a ViT with an MLP projection head, trained by "
                     "NT-Xent between two augmented views of an image",
           [](const config::ModelConfig& c) -> ModelPtr { return std::make_shared<SimclrImpl>(c); },
           {.reads = {Modality::image},
            .views = 2,
            .losses = {"ntxent"},
            .data = {"manifest"},
            .eval_input = Modality::image,
            .sections = {"vision", "simclr"}}},
          {"vatt", "VATT (Akbari et al. 2021): transformers over video patches, raw audio and words with DropToken; "
                   "model.vatt.backbone specific or agnostic (one shared transformer)",
           [](const config::ModelConfig& c) -> ModelPtr { return std::make_shared<VattImpl>(c); },
           {.reads = {Modality::video, Modality::audio, Modality::text},
            .losses = {"vatt"},
            .data = {"video"},
            .eval_input = Modality::video,
            .sections = {"video", "text", "vatt"}}},
      });
  return table;
}
}  // namespace

ModelPtr make_model(const config::ModelConfig& config) { return registry().get(config.name)(config); }

const at::Tensor& Embeddings::at(const std::string& modality) const {
  auto it = by_modality.find(modality);
  MMCL_CHECK(it != by_modality.end(), "the model produced no ", modality, " embeddings");
  return it->second;
}

}  // namespace mmcl::models

std::vector<mmcl::CatalogEntry> mmcl::model_catalog() { return models::registry().catalog(); }

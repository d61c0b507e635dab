// The loss table: loss.name -> factory.

#include <functional>

#include "mmcl/core/error.h"
#include "mmcl/core/registry.h"
#include "mmcl/losses/loss.h"

namespace mmcl::losses {

std::shared_ptr<const Loss> make_infonce();               // infonce.cpp
std::shared_ptr<const Loss> make_ntxent(double temperature);  // ntxent.cpp
std::shared_ptr<const Loss> make_vatt(const config::LossConfig& config);  // vatt_loss.cpp
std::shared_ptr<const Loss> make_siglip();                // siglip.cpp

namespace {
using Factory = std::function<LossPtr(const config::LossConfig&)>;

const Registry<Factory>& registry() {
  static const Registry<Factory> table(
      "loss.name",
      {
          {"infonce", "symmetric InfoNCE over image-text pairs (CLIP): mean of image->text and text->image cross-entropy",
           [](const config::LossConfig&) { return make_infonce(); }, {}},
          {"siglip",
           "SigLIP's sigmoid loss over every image-text pair, with the model's learnable scale and bias "
           "(model.logit_bias: true)",
           [](const config::LossConfig&) { return make_siglip(); }, {}},
          {"ntxent", "NT-Xent between two views of each sample (SimCLR, CVRL) at loss.temperature; reads image and image_2 or video and video_2",
           [](const config::LossConfig& c) { return make_ntxent(c.temperature > 0 ? c.temperature : 0.1); }, {}},
          {"vatt",
           "VATT: NCE between video and audio + loss.mil_weight x MIL-NCE between video and its captions at "
           "loss.temperature; reads video_va, audio, video, text, text_mask",
           [](const config::LossConfig& c) { return make_vatt(c); }, {}},
      });
  return table;
}
}  // namespace

LossOutput Loss::local(const models::Embeddings&, int64_t, int64_t) const {
  throw Error("this loss has no local form; set loss.local_loss: false");
}

LossPtr make_loss(const config::LossConfig& config) { return registry().get(config.name)(config); }

}  // namespace mmcl::losses

std::vector<mmcl::CatalogEntry> mmcl::loss_catalog() { return losses::registry().catalog(); }

#include "mmcl/models/simclr.h"

#include "mmcl/core/error.h"
#include "mmcl/models/projection.h"

namespace mmcl::models {

SimclrImpl::SimclrImpl(const config::ModelConfig& c) : config_(c) {
  const auto& v = c.vision;
  if (v.tower == VisionTower::vit) {
    visual = register_module("visual", VisionTransformer(v, c.embed_dim, c.quick_gelu ? Activation::kQuickGelu
                                                                                          : Activation::kGelu));
    features_ = c.embed_dim;
  } else {
    backbone = register_module("backbone", ResNet(v.tower, v.width, v.small_stem));
    features_ = backbone->features();
  }
  head = register_module("head", projection_head(features_, c.simclr));
}

at::Tensor SimclrImpl::features(const at::Tensor& images) {
  MMCL_CHECK(images.dim() == 4, "SimCLR: expected images [N, 3, H, W], got ", images.sizes());
  return visual ? visual(images) : backbone(images);
}

Embeddings SimclrImpl::forward(const data::Batch& batch) {
  MMCL_CHECK(batch.image.defined(), "SimCLR reads images; this batch has none");
  return two_view_embeddings(batch.image, 3, "image", [this](const at::Tensor& images) { return features(images); }, *head);
}

data::InputSpec SimclrImpl::input_spec() const {
  data::InputSpec spec;
  spec.image_size = config_.vision.image_size;
  spec.image_views = 2;
  return spec;
}

bool SimclrImpl::may_start_fresh(const std::string& name) const { return name.rfind("head.", 0) == 0; }

std::string SimclrImpl::weights_alias(const std::string& name) const {
  // torchvision's state dict names the ResNet's tensors without our "backbone." prefix.
  const std::string prefix = "backbone.";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : "";
}

}  // namespace mmcl::models

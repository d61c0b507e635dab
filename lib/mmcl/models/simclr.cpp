#include "mmcl/models/simclr.h"

#include "mmcl/core/error.h"
#include "mmcl/models/projection.h"
#include "mmcl/models/sync_batchnorm.h"

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
  Embeddings e;
  e.logit_scale = at::zeros({}, batch.image.options());  // NT-Xent's temperature is the loss's
  if (batch.image.dim() == 5) {
    const int64_t b = batch.image.size(0);
    MMCL_CHECK(batch.image.size(1) == 2, "SimCLR: expected two views per image, got ", batch.image.size(1));
    // Both views through the backbone and the head together (BatchNorm sees all 2B images).
    const at::Tensor views = batch.image.transpose(0, 1).reshape({2 * b, batch.image.size(2), batch.image.size(3),
                                                                  batch.image.size(4)});
    const at::Tensor z = l2_normalize(forward_with_sync_bn(*head, features(views)));
    e.by_modality["image"] = z.slice(0, 0, b);
    e.by_modality["image_2"] = z.slice(0, b, 2 * b);
  } else {
    e.by_modality["image"] = l2_normalize(features(batch.image));
  }
  return e;
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

#pragma once
// SimCLR (Chen et al., ICML 2020): an image backbone whose pooled features go through an MLP projection
// head into the space of the NT-Xent loss. The backbone is a torchvision ResNet (model.vision.tower
// resnet18 ... resnet101; registered as "backbone", torchvision's tensor names below it) or a ViT (the
// CLIP image tower, registered as "visual", its output after the projection to model.embed_dim). A
// training batch holds two views per image (image [B, 2, 3, S, S]) and returns their projections as
// "image" and "image_2"; a batch of single images returns the backbone's features as "image" (what
// linear probes and fine-tuning read). Every embedding is L2-normalised.

#include <torch/nn/modules/container/sequential.h>

#include "mmcl/models/clip.h"
#include "mmcl/models/model.h"
#include "mmcl/models/resnet.h"

namespace mmcl::models {

class SimclrImpl : public ContrastiveModel {
 public:
  explicit SimclrImpl(const config::ModelConfig& config);
  Embeddings forward(const data::Batch& batch) override;
  data::InputSpec input_spec() const override;
  int64_t embedding_dim() const override { return features_; }
  // The projection head is what torchvision weights lack.
  bool may_start_fresh(const std::string& name) const override;
  std::string weights_alias(const std::string& name) const override;

  // [N, 3, S, S] -> backbone features [N, F] (not normalised).
  at::Tensor features(const at::Tensor& images);

  ResNet backbone{nullptr};
  VisionTransformer visual{nullptr};
  torch::nn::Sequential head{nullptr};

 private:
  config::ModelConfig config_;
  int64_t features_ = 0;
};

}  // namespace mmcl::models

#pragma once
// CVRL (Qian et al., CVPR 2021): a 3D ResNet whose pooled features go through an MLP projection head
// into the space of the NT-Xent loss. A training batch holds two views per video (video [B, 2, T, 3,
// H, W]) and returns their projections as "video" and "video_2"; a batch of single clips ([B, T, 3,
// H, W]) returns the pooled backbone features as "video" (what linear probes and fine-tuning read).
// Every embedding is L2-normalised.

#include <torch/nn/modules/container/sequential.h>

#include "mmcl/models/model.h"
#include "mmcl/models/r3d.h"

namespace mmcl::models {

class CvrlImpl : public ContrastiveModel {
 public:
  explicit CvrlImpl(const config::ModelConfig& config);
  Embeddings forward(const data::Batch& batch) override;
  data::InputSpec input_spec() const override;
  int64_t embedding_dim() const override { return backbone->features(); }

  // [N, T, 3, H, W] -> pooled features [N, F] (not normalised).
  at::Tensor features(const at::Tensor& clips);

  R3d backbone{nullptr};
  torch::nn::Sequential head{nullptr};

 private:
  config::ModelConfig config_;
};

}  // namespace mmcl::models

#pragma once
// A classification head on the normalised image embeddings of a contrastive model, for fine-tuning.

#include <torch/nn/modules/linear.h>

#include "mmcl/models/model.h"

namespace mmcl::models {

class ImageClassifierImpl : public torch::nn::Module {
 public:
  // With `freeze_backbone` only the head trains (linear fine-tuning); the backbone stays in eval mode.
  ImageClassifierImpl(ModelPtr backbone, int64_t embed_dim, int64_t classes, bool freeze_backbone);
  at::Tensor forward(const at::Tensor& images);  // [B, classes] logits
  void train(bool on = true) override;

  ModelPtr backbone;
  torch::nn::Linear head{nullptr};
  bool frozen;
};
TORCH_MODULE(ImageClassifier);

}  // namespace mmcl::models

#pragma once
// A classification head on the normalised embeddings of a contrastive model's input tower (images, or
// video clips for video models), for fine-tuning.

#include <string>

#include <torch/nn/modules/linear.h>

#include "mmcl/models/model.h"

namespace mmcl::models {

class ClassifierImpl : public torch::nn::Module {
 public:
  // The backbone's input_modality() ("image" or "video") says what forward() reads. With
  // `freeze_backbone` only the head trains (linear fine-tuning); the backbone stays in eval mode.
  ClassifierImpl(ModelPtr backbone, int64_t embed_dim, int64_t classes, bool freeze_backbone);
  // images [B, 3, H, W] or clips [B, T, 3, H, W] -> [B, classes] logits
  at::Tensor forward(const at::Tensor& inputs);
  void train(bool on = true) override;
  const std::string& modality() const { return modality_; }

  ModelPtr backbone;
  torch::nn::Linear head{nullptr};
  bool frozen;

 private:
  std::string modality_;
};
TORCH_MODULE(Classifier);

}  // namespace mmcl::models

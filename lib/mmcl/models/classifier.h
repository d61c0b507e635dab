#pragma once
// A classification head on the normalised embeddings of one input tower of a contrastive model
// (images, video clips or audio), for fine-tuning.

#include <string>

#include <torch/nn/modules/linear.h>

#include "mmcl/models/model.h"

namespace mmcl::models {

class ClassifierImpl : public torch::nn::Module {
 public:
  // `modality` (image, video or audio) says what forward() reads. With `freeze_backbone` only
  // the head trains (linear fine-tuning); the backbone stays in eval mode.
  ClassifierImpl(ModelPtr backbone, Modality modality, int64_t classes, bool freeze_backbone);
  // images [B, 3, H, W], clips [B, T, 3, H, W] or waveforms [B, samples] -> [B, classes] logits
  // A batch of several views per sample (one more leading dimension) gives the mean of their logits.
  at::Tensor forward(const at::Tensor& inputs);
  void train(bool on = true) override;
  Modality modality() const { return modality_; }

  ModelPtr backbone;
  torch::nn::Linear head{nullptr};
  bool frozen;

 private:
  Modality modality_;
};
TORCH_MODULE(Classifier);

}  // namespace mmcl::models

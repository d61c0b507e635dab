#include "mmcl/models/classifier.h"

#include <torch/nn/init.h>

#include "mmcl/core/error.h"

namespace mmcl::models {

ClassifierImpl::ClassifierImpl(ModelPtr backbone_, Modality modality, int64_t classes, bool freeze)
    : backbone(register_module("backbone", std::move(backbone_))), frozen(freeze), modality_(modality) {
  MMCL_CHECK(modality_ != Modality::text, "a classifier reads images, video or audio, not text");
  head = register_module("head", torch::nn::Linear(backbone->embedding_dim_of(name_of(modality_)), classes));
  torch::NoGradGuard no_grad;
  head->weight.zero_();
  head->bias.zero_();
  if (frozen)
    for (auto& p : backbone->parameters()) p.requires_grad_(false);
}

at::Tensor ClassifierImpl::forward(const at::Tensor& inputs) {
  // Several views per sample (evaluation: video [B, V, T, 3, S, S], audio [B, V, samples]): the mean of
  // their logits.
  const int64_t sample_dims = modality_ == Modality::video ? 5 : modality_ == Modality::audio ? 2 : 4;
  if (inputs.dim() == sample_dims + 1) {
    const at::Tensor logits = forward(inputs.flatten(0, 1));
    return logits.view({inputs.size(0), inputs.size(1), logits.size(1)}).mean(1);
  }
  data::Batch batch;
  batch.input(modality_) = inputs;
  at::Tensor features;
  if (frozen) {
    torch::NoGradGuard no_grad;
    features = backbone->forward(batch).at(name_of(modality_));
  } else {
    features = backbone->forward(batch).at(name_of(modality_));
  }
  return head(features);
}

void ClassifierImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (frozen) backbone->eval();
}

}  // namespace mmcl::models

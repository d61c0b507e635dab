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

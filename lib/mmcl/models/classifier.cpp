#include "mmcl/models/classifier.h"

#include <torch/nn/init.h>

namespace mmcl::models {

ImageClassifierImpl::ImageClassifierImpl(ModelPtr backbone_, int64_t embed_dim, int64_t classes, bool freeze)
    : backbone(register_module("backbone", std::move(backbone_))), frozen(freeze) {
  head = register_module("head", torch::nn::Linear(embed_dim, classes));
  torch::NoGradGuard no_grad;
  head->weight.zero_();
  head->bias.zero_();
  if (frozen)
    for (auto& p : backbone->parameters()) p.requires_grad_(false);
}

at::Tensor ImageClassifierImpl::forward(const at::Tensor& images) {
  data::Batch batch;
  batch.image = images;
  at::Tensor features;
  if (frozen) {
    torch::NoGradGuard no_grad;
    features = backbone->forward(batch).at("image");
  } else {
    features = backbone->forward(batch).at("image");
  }
  return head(features);
}

void ImageClassifierImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (frozen) backbone->eval();
}

}  // namespace mmcl::models

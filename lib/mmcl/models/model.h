#pragma once
// The interface every method implements: a module that maps a Batch to L2-normalised embeddings per
// modality plus the (exponentiated) logit scale the contrastive loss uses.

#include <map>
#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "mmcl/config/config.h"
#include "mmcl/data/batch.h"
#include "mmcl/data/dataset.h"

namespace mmcl::models {

struct Embeddings {
  std::map<std::string, at::Tensor> by_modality;  // "image", "text", "video", "audio" -> [B, D]
  at::Tensor logit_scale;                          // scalar: exp(learned log scale)
  at::Tensor logit_bias;                           // scalar, or undefined: the model has none (model.logit_bias)

  const at::Tensor& at(const std::string& modality) const;
};

class ContrastiveModel : public torch::nn::Module {
 public:
  // Embeds every modality the batch holds (evaluation passes images or texts alone).
  virtual Embeddings forward(const data::Batch& batch) = 0;
  // Constraints applied after each optimiser step (CLIP clamps its logit scale).
  virtual void after_step() {}
  // What the model consumes, for sizing datasets.
  virtual data::InputSpec input_spec() const = 0;
  // The dimension of the embeddings forward() returns.
  virtual int64_t embedding_dim() const = 0;
  // The dimension of one modality's embedding, where the model's spaces differ (VATT's audio).
  virtual int64_t embedding_dim_of(const std::string& /*modality*/) const { return embedding_dim(); }
  // Whether the tensor `name` may be absent from pretrained weights and keep its initial value (the
  // parts a method adds to the CLIP whose weights it starts from).
  virtual bool may_start_fresh(const std::string& /*name*/) const { return false; }
  // Another name the tensor `name` may have in pretrained weights (torchvision's for a SimCLR ResNet);
  // "" for none.
  virtual std::string weights_alias(const std::string& /*name*/) const { return ""; }
};

using ModelPtr = std::shared_ptr<ContrastiveModel>;

// Builds the model named by config.name (the table is in registry.cpp). What a model reads, trains
// with and is evaluated on is its table entry's: model_capabilities(config.name) (core/catalog.h).
ModelPtr make_model(const config::ModelConfig& config);

}  // namespace mmcl::models

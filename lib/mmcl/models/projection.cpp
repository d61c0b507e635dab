#include "mmcl/models/projection.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

namespace mmcl::models {

torch::nn::Sequential projection_head(int64_t in, const config::ProjectionConfig& c) {
  torch::nn::Sequential head;
  const int64_t hidden = c.hidden > 0 ? c.hidden : in;
  for (int64_t i = 0; i < c.hidden_layers; ++i) {
    head->push_back(torch::nn::Linear(torch::nn::LinearOptions(in, hidden).bias(false)));
    head->push_back(torch::nn::BatchNorm1d(hidden));
    head->push_back(torch::nn::ReLU());
    in = hidden;
  }
  head->push_back(torch::nn::Linear(in, c.dim));
  return head;
}

}  // namespace mmcl::models

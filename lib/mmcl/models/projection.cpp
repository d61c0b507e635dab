#include "mmcl/models/projection.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>

#include "mmcl/core/error.h"
#include "mmcl/models/clip.h"  // l2_normalize
#include "mmcl/models/sync_batchnorm.h"

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

Embeddings two_view_embeddings(const at::Tensor& inputs, int64_t input_dims, const std::string& key,
                               const std::function<at::Tensor(const at::Tensor&)>& features,
                               torch::nn::SequentialImpl& head) {
  Embeddings e;
  e.logit_scale = at::zeros({}, inputs.options());
  if (inputs.dim() == input_dims + 2) {
    const int64_t b = inputs.size(0);
    MMCL_CHECK(inputs.size(1) == 2, "expected two views per sample, got ", inputs.size(1));
    std::vector<int64_t> shape = inputs.sizes().slice(1).vec();
    shape[0] = 2 * b;
    const at::Tensor z = l2_normalize(forward_with_sync_bn(head, features(inputs.transpose(0, 1).reshape(shape))));
    e.by_modality[key] = z.slice(0, 0, b);
    e.by_modality[key + "_2"] = z.slice(0, b, 2 * b);
  } else {
    e.by_modality[key] = l2_normalize(features(inputs));
  }
  return e;
}

}  // namespace mmcl::models

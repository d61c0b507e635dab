#pragma once
// The MLP projection head of SimCLR and CVRL: hidden_layers x (Linear without bias, BatchNorm1d, ReLU),
// then a Linear (with bias) to config.dim. Its BatchNorm layers run through forward_with_sync_bn
// (global statistics across processes).

#include <functional>
#include <string>

#include <torch/nn/modules/container/sequential.h>

#include "mmcl/config/config.h"
#include "mmcl/models/model.h"

namespace mmcl::models {

// `in`: the backbone's feature width (also the hidden width when config.hidden is 0).
torch::nn::Sequential projection_head(int64_t in, const config::ProjectionConfig& config);

// SimCLR's and CVRL's forward pass. `inputs` holds one input per sample ([B, ...], `input_dims`
// dimensions after B: 3 for an image, 4 for a clip) or two views per sample ([B, 2, ...]). Two views go
// through `features` and `head` together (BatchNorm sees all 2B) and give `key` and `key`_2, the first
// and the second views' projections; single inputs give their features as `key`. All L2-normalised;
// the logit scale is a 0 (NT-Xent's temperature is the loss's).
Embeddings two_view_embeddings(const at::Tensor& inputs, int64_t input_dims, const std::string& key,
                               const std::function<at::Tensor(const at::Tensor&)>& features,
                               torch::nn::SequentialImpl& head);

}  // namespace mmcl::models

#pragma once
// The MLP projection head of SimCLR and CVRL: hidden_layers x (Linear without bias, BatchNorm1d, ReLU),
// then a Linear (with bias) to config.dim. Its BatchNorm layers run through forward_with_sync_bn
// (global statistics across processes).

#include <torch/nn/modules/container/sequential.h>

#include "mmcl/config/config.h"

namespace mmcl::models {

// `in`: the backbone's feature width (also the hidden width when config.hidden is 0).
torch::nn::Sequential projection_head(int64_t in, const config::ProjectionConfig& config);

}  // namespace mmcl::models

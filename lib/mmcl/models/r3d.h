#pragma once
// 3D ResNets for video (Tran et al. 2018's R3D, as torchvision's r3d_18; R3D-50 with bottlenecks as
// CVRL uses): a (3, 7, 7) stem with spatial stride 2, four stages of 3x3x3 residual blocks (stride 2 in
// time and space from the second stage), global average pooling. Input [N, 3, T, H, W].

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "mmcl/config/config.h"

namespace mmcl::models {

class R3dImpl : public torch::nn::Module {
 public:
  explicit R3dImpl(const config::VideoModelConfig& config);
  at::Tensor forward(const at::Tensor& clips);  // [N, 3, T, H, W] -> [N, features]
  int64_t features() const { return features_; }

 private:
  torch::nn::Conv3d stem_conv{nullptr};
  torch::nn::BatchNorm3d stem_bn{nullptr};
  torch::nn::Sequential stages{nullptr};
  int64_t features_ = 0;
};
TORCH_MODULE(R3d);

}  // namespace mmcl::models

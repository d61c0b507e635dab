#pragma once
// 3D ResNets for video, global average pooled. Input [N, 3, T, H, W].
// - r3d18: Tran et al. 2018's R3D-18 as torchvision's r3d_18: a (3, 7, 7) stem with spatial stride 2,
//   four stages of two 3x3x3 basic blocks (stride 2 in time and space from the second stage).
// - r3d50: CVRL's 3D ResNet-50 (tensorflow/models official/projects/video_ssl, resnet_3d with
//   model_id 50): a (5, 7, 7) stem with stride 2 in time and space, a 1x3x3 max-pool of stride 2 in
//   space, four stages of 3, 4, 6, 3 bottlenecks (a temporal [k, 1, 1] convolution, k = 1 in the first
//   two stages and 3 in the last two; a spatial [1, 3, 3] one, stride 2 in space from the second stage;
//   a 1x1x1 expansion to 4x), no temporal downsampling after the stem. 31.7 M parameters at width 64.

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
  // The last stage's feature map, before pooling: [N, features, T', H', W'].
  at::Tensor trunk(const at::Tensor& clips);
  int64_t features() const { return features_; }

 private:
  torch::nn::Conv3d stem_conv{nullptr};
  torch::nn::BatchNorm3d stem_bn{nullptr};
  bool stem_pool_ = false;
  torch::nn::Sequential stages{nullptr};
  int64_t features_ = 0;
};
TORCH_MODULE(R3d);

}  // namespace mmcl::models

#pragma once
// torchvision's ResNets (He et al. 2016) as 2D image backbones (SimCLR's): resnet18/34 (basic blocks),
// resnet50/101 (bottlenecks, stride in the 3x3 convolution: ResNet v1.5), global average pooled, no fc.
// Tensor names are torchvision's (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0 ...), so its state
// dicts load one to one (its fc.* left over); the initialisation is torchvision's (Kaiming normal, fan
// out, for convolutions; BatchNorm weight 1, bias 0). `width` scales the stages (64, 128, 256, 512 at
// 64); `small_stem` is SimCLR's CIFAR-10 stem (3x3 stride 1, no max-pool).

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "mmcl/core/choices.h"

namespace mmcl::models {

class ResNetImpl : public torch::nn::Module {
 public:
  ResNetImpl(VisionTower depth, int64_t width, bool small_stem);
  at::Tensor forward(const at::Tensor& images);  // [N, 3, H, W] -> [N, features]
  int64_t features() const { return features_; }

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};

 private:
  bool small_stem_;
  int64_t features_ = 0;
};
TORCH_MODULE(ResNet);

}  // namespace mmcl::models

#pragma once
// CLIP's ResNet image tower (Radford et al. 2021, Sec. 2.4: ResNet-D with "antialiased" average pooling
// before strided convolutions and an attention pooling head), with open_clip's ModifiedResNet parameter
// names so that OpenAI's RN50 / RN101 / RN50x4 ... weights and open_clip's RN configs load one to one:
//   stem: conv1 (3x3 stride 2, width/2), conv2 (3x3, width/2), conv3 (3x3, width), each BatchNorm + ReLU,
//     then a 2x2 average pool;
//   layer1..4: Bottleneck blocks (1x1, 3x3, an avgpool of the stride, 1x1 to 4x planes; the shortcut an
//     avgpool then a 1x1 conv + BatchNorm where the shape changes), planes width, 2 width, 4 width, 8 width;
//   attnpool: the mean of the final feature map prepended to its positions, learned positional
//     embeddings, multi-head attention of the mean token over all of them, c_proj to the output dim.

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "mmcl/config/config.h"

namespace mmcl::models {

class AttentionPool2dImpl : public torch::nn::Module {
 public:
  AttentionPool2dImpl(int64_t spatial, int64_t width, int64_t heads, int64_t output_dim);
  // x [B, C, H, W] -> [B, output_dim]
  at::Tensor forward(const at::Tensor& x);
  // The attention's inputs: [B, 1 + H W, C], the mean token first, positions added.
  at::Tensor tokens(const at::Tensor& x);

  at::Tensor positional_embedding;  // [spatial^2 + 1, C]
  torch::nn::Linear k_proj{nullptr}, q_proj{nullptr}, v_proj{nullptr}, c_proj{nullptr};
  int64_t heads;
};
TORCH_MODULE(AttentionPool2d);

class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride);
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};  // "-1" AvgPool2d, "0" Conv2d, "1" BatchNorm2d; null when the shape holds
  int64_t stride;
};
TORCH_MODULE(Bottleneck);

class ModifiedResNetImpl : public torch::nn::Module {
 public:
  // vision.resnet_layers blocks per stage, stem width vision.width, vision.width * 32 / vision.head_width
  // attention heads, images of vision.image_size (a multiple of 32).
  ModifiedResNetImpl(const config::VisionConfig& vision, int64_t output_dim);
  at::Tensor forward(const at::Tensor& images);  // [B, 3, S, S] -> [B, output_dim]
  at::Tensor features(const at::Tensor& images);  // the last stage's map [B, 32 width, S/32, S/32]
  int64_t feature_width() const { return width_ * 32; }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  AttentionPool2d attnpool{nullptr};

 private:
  int64_t width_;
};
TORCH_MODULE(ModifiedResNet);

}  // namespace mmcl::models

#include "mmcl/models/resnet.h"

#include <torch/nn/init.h>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/models/sync_batchnorm.h"

namespace mmcl::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// torchvision's BasicBlock (two 3x3) or Bottleneck (1x1, 3x3 with the stride, 1x1 to 4x).
class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck) : bottleneck_(bottleneck) {
    const int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      conv1 = register_module("conv1", conv(in, width, 1, 1));
      bn1 = register_module("bn1", nn::BatchNorm2d(width));
      conv2 = register_module("conv2", conv(width, width, 3, stride));
      bn2 = register_module("bn2", nn::BatchNorm2d(width));
      conv3 = register_module("conv3", conv(width, out, 1, 1));
      bn3 = register_module("bn3", nn::BatchNorm2d(out));
    } else {
      conv1 = register_module("conv1", conv(in, width, 3, stride));
      bn1 = register_module("bn1", nn::BatchNorm2d(width));
      conv2 = register_module("conv2", conv(width, width, 3, 1));
      bn2 = register_module("bn2", nn::BatchNorm2d(width));
    }
    if (stride != 1 || in != out) {
      downsample = nn::Sequential(conv(in, out, 1, stride), nn::BatchNorm2d(out));
      register_module("downsample", downsample);
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = at::relu(batch_norm(*bn1, conv1(x)));
    y = batch_norm(*bn2, conv2(y));
    if (bottleneck_) y = batch_norm(*bn3, conv3(at::relu(y)));
    const at::Tensor skip = downsample ? forward_with_sync_bn(*downsample, x) : x;
    return at::relu(y + skip);
  }

 private:
  bool bottleneck_;
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

ResNetImpl::ResNetImpl(VisionTower depth, int64_t width, bool small_stem) : small_stem_(small_stem) {
  std::array<int64_t, 4> blocks{};
  bool bottleneck = false;
  switch (depth) {
    case VisionTower::resnet18: blocks = {2, 2, 2, 2}; break;
    case VisionTower::resnet34: blocks = {3, 4, 6, 3}; break;
    case VisionTower::resnet50: blocks = {3, 4, 6, 3}; bottleneck = true; break;
    case VisionTower::resnet101: blocks = {3, 4, 23, 3}; bottleneck = true; break;
    default: throw Error(str_cat("ResNet: ", depth, " is not a torchvision ResNet"));
  }
  conv1 = register_module("conv1", small_stem ? conv(3, width, 3, 1) : conv(3, width, 7, 2));
  bn1 = register_module("bn1", nn::BatchNorm2d(width));
  int64_t in = width;
  nn::Sequential* stages[] = {&layer1, &layer2, &layer3, &layer4};
  for (size_t s = 0; s < 4; ++s) {
    *stages[s] = nn::Sequential();
    const int64_t w = width << s;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      (*stages[s])->push_back(Block(in, w, s > 0 && b == 0 ? 2 : 1, bottleneck));
      in = bottleneck ? w * 4 : w;
    }
    register_module("layer" + std::to_string(s + 1), *stages[s]);
  }
  features_ = in;
  // torchvision's initialisation.
  const torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* c = m->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

at::Tensor ResNetImpl::forward(const at::Tensor& images) {
  MMCL_CHECK(images.dim() == 4 && images.size(1) == 3, "ResNet: expected images [N, 3, H, W], got ", images.sizes());
  at::Tensor x = at::relu(batch_norm(*bn1, conv1(images)));
  if (!small_stem_) x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return x.mean({2, 3});
}

}  // namespace mmcl::models

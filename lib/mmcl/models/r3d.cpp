#include "mmcl/models/r3d.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include "mmcl/core/error.h"

namespace mmcl::models {
namespace {

namespace nn = torch::nn;

nn::Conv3d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return nn::Conv3d(nn::Conv3dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// Basic (two 3x3x3 convolutions) or bottleneck (1x1x1, 3x3x3, 1x1x1 with 4x expansion) residual block.
class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck) : bottleneck_(bottleneck) {
    const int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      c1 = register_module("conv1", conv(in, width, 1, 1));
      c2 = register_module("conv2", conv(width, width, 3, stride));
      c3 = register_module("conv3", conv(width, out, 1, 1));
      b3 = register_module("bn3", nn::BatchNorm3d(out));
    } else {
      c1 = register_module("conv1", conv(in, width, 3, stride));
      c2 = register_module("conv2", conv(width, width, 3, 1));
    }
    b1 = register_module("bn1", nn::BatchNorm3d(width));
    b2 = register_module("bn2", nn::BatchNorm3d(bottleneck ? width : out));
    if (stride != 1 || in != out) {
      down = register_module("downsample", conv(in, out, 1, stride));
      down_bn = register_module("downsample_bn", nn::BatchNorm3d(out));
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = at::relu(b1(c1(x)));
    y = b2(c2(y));
    if (bottleneck_) y = b3(c3(at::relu(y)));
    const at::Tensor skip = down ? down_bn(down(x)) : x;
    return at::relu(y + skip);
  }

 private:
  bool bottleneck_;
  nn::Conv3d c1{nullptr}, c2{nullptr}, c3{nullptr}, down{nullptr};
  nn::BatchNorm3d b1{nullptr}, b2{nullptr}, b3{nullptr}, down_bn{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

R3dImpl::R3dImpl(const config::VideoModelConfig& c) {
  const bool bottleneck = c.backbone == VideoBackbone::r3d50;
  const std::vector<int64_t> depth = bottleneck ? std::vector<int64_t>{3, 4, 6, 3} : std::vector<int64_t>{2, 2, 2, 2};
  const int64_t w = c.width;
  stem_conv = register_module("stem_conv", nn::Conv3d(nn::Conv3dOptions(3, w, {3, 7, 7})
                                                          .stride({1, 2, 2})
                                                          .padding({1, 3, 3})
                                                          .bias(false)));
  stem_bn = register_module("stem_bn", nn::BatchNorm3d(w));
  stages = nn::Sequential();
  int64_t in = w;
  for (size_t s = 0; s < depth.size(); ++s) {
    const int64_t width = w << s;
    for (int64_t b = 0; b < depth[s]; ++b) {
      stages->push_back(Block(in, width, s > 0 && b == 0 ? 2 : 1, bottleneck));
      in = bottleneck ? width * 4 : width;
    }
  }
  register_module("stages", stages);
  features_ = in;
}

at::Tensor R3dImpl::forward(const at::Tensor& clips) {
  MMCL_CHECK(clips.dim() == 5 && clips.size(1) == 3, "R3D: expected clips [N, 3, T, H, W], got ", clips.sizes());
  at::Tensor x = at::relu(stem_bn(stem_conv(clips)));
  x = stages->forward(x);
  return x.mean({2, 3, 4});
}

}  // namespace mmcl::models

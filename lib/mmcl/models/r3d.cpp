#include "mmcl/models/r3d.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>

#include <ATen/ops/max_pool3d.h>

#include "mmcl/core/error.h"
#include "mmcl/models/sync_batchnorm.h"

namespace mmcl::models {
namespace {

namespace nn = torch::nn;

// A convolution of kernel k (t, h, w) and stride (t, h, w), "same" padding (k / 2 each side), no bias.
nn::Conv3d conv(int64_t in, int64_t out, std::vector<int64_t> k, std::vector<int64_t> stride) {
  return nn::Conv3d(nn::Conv3dOptions(in, out, {k[0], k[1], k[2]})
                        .stride({stride[0], stride[1], stride[2]})
                        .padding({k[0] / 2, k[1] / 2, k[2] / 2})
                        .bias(false));
}
nn::Conv3d conv(int64_t in, int64_t out, int64_t k, int64_t stride) { return conv(in, out, {k, k, k}, {stride, stride, stride}); }

// CVRL's BatchNorm: TensorFlow's momentum 0.99 (0.01 in PyTorch's convention) and epsilon 1e-3.
nn::BatchNorm3d tf_batch_norm(int64_t channels) {
  return nn::BatchNorm3d(nn::BatchNormOptions(channels).momentum(0.01).eps(1e-3));
}

// Basic (two 3x3x3 convolutions) or CVRL's bottleneck ([k,1,1] temporal, [1,3,3] spatial with the
// stride, 1x1x1 expansion to 4x) residual block.
class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck, int64_t temporal_kernel = 1)
      : bottleneck_(bottleneck) {
    const int64_t out = bottleneck ? width * 4 : width;
    auto bn = [&](int64_t channels) { return bottleneck ? tf_batch_norm(channels) : nn::BatchNorm3d(channels); };
    if (bottleneck) {
      c1 = register_module("conv1", conv(in, width, {temporal_kernel, 1, 1}, {1, 1, 1}));
      c2 = register_module("conv2", conv(width, width, {1, 3, 3}, {1, stride, stride}));
      c3 = register_module("conv3", conv(width, out, 1, 1));
      b3 = register_module("bn3", bn(out));
    } else {
      c1 = register_module("conv1", conv(in, width, 3, stride));
      c2 = register_module("conv2", conv(width, width, 3, 1));
    }
    b1 = register_module("bn1", bn(width));
    b2 = register_module("bn2", bn(bottleneck ? width : out));
    if (stride != 1 || in != out) {
      // CVRL's shortcut keeps the time axis (no temporal stride after the stem).
      down = register_module("downsample", bottleneck ? conv(in, out, {1, 1, 1}, {1, stride, stride}) : conv(in, out, 1, stride));
      down_bn = register_module("downsample_bn", bn(out));
    }
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = at::relu(batch_norm(*b1, c1(x)));
    y = batch_norm(*b2, c2(y));
    if (bottleneck_) y = batch_norm(*b3, c3(at::relu(y)));
    const at::Tensor skip = down ? batch_norm(*down_bn, down(x)) : x;
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
  if (bottleneck) {  // CVRL: 5x7x7, stride 2 in time and space, then a 1x3x3 max-pool
    stem_conv = register_module("stem_conv", conv(3, w, {5, 7, 7}, {2, 2, 2}));
    stem_bn = register_module("stem_bn", tf_batch_norm(w));
    stem_pool_ = true;
  } else {
    stem_conv = register_module("stem_conv", conv(3, w, {3, 7, 7}, {1, 2, 2}));
    stem_bn = register_module("stem_bn", nn::BatchNorm3d(w));
  }
  stages = nn::Sequential();
  int64_t in = w;
  for (size_t s = 0; s < depth.size(); ++s) {
    const int64_t width = w << s;
    for (int64_t b = 0; b < depth[s]; ++b) {
      stages->push_back(Block(in, width, s > 0 && b == 0 ? 2 : 1, bottleneck, s < 2 ? 1 : 3));
      in = bottleneck ? width * 4 : width;
    }
  }
  register_module("stages", stages);
  features_ = in;
}

at::Tensor R3dImpl::trunk(const at::Tensor& clips) {
  MMCL_CHECK(clips.dim() == 5 && clips.size(1) == 3, "R3D: expected clips [N, 3, T, H, W], got ", clips.sizes());
  at::Tensor x = at::relu(batch_norm(*stem_bn, stem_conv(clips)));
  if (stem_pool_) x = at::max_pool3d(x, {1, 3, 3}, {1, 2, 2}, {0, 1, 1});
  return stages->forward(x);
}

at::Tensor R3dImpl::forward(const at::Tensor& clips) { return trunk(clips).mean({2, 3, 4}); }

}  // namespace mmcl::models

#include "mmcl/models/modified_resnet.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/nn/modules/pooling.h>

#include "mmcl/core/error.h"
#include "mmcl/models/sync_batchnorm.h"
#include "mmcl/models/transformer.h"

namespace mmcl::models {
namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

at::Tensor avg_pool(const at::Tensor& x, int64_t k) { return k > 1 ? at::avg_pool2d(x, {k, k}, {k, k}) : x; }

}  // namespace

AttentionPool2dImpl::AttentionPool2dImpl(int64_t spatial, int64_t width, int64_t heads_, int64_t output_dim)
    : heads(heads_) {
  MMCL_CHECK(heads > 0 && width % heads == 0, "attention pool: width ", width, " is not a multiple of ", heads, " heads");
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({spatial * spatial + 1, width}) / std::sqrt(double(width)));
  k_proj = register_module("k_proj", torch::nn::Linear(width, width));
  q_proj = register_module("q_proj", torch::nn::Linear(width, width));
  v_proj = register_module("v_proj", torch::nn::Linear(width, width));
  c_proj = register_module("c_proj", torch::nn::Linear(width, output_dim));
}

at::Tensor AttentionPool2dImpl::tokens(const at::Tensor& x) {
  const at::Tensor flat = x.flatten(2).transpose(1, 2);  // [B, HW, C]
  MMCL_CHECK(flat.size(1) + 1 == positional_embedding.size(0), "attention pool: a ", x.size(2), " x ", x.size(3),
             " feature map, positions for ", positional_embedding.size(0) - 1);
  return at::cat({flat.mean(1, /*keepdim=*/true), flat}, 1) + positional_embedding.to(x.dtype());
}

at::Tensor AttentionPool2dImpl::forward(const at::Tensor& x) {
  const at::Tensor t = tokens(x);  // [B, L, C]
  const int64_t b = t.size(0), length = t.size(1), c = t.size(2), head = c / heads;
  // Only the mean token's output is kept: it is the one query.
  const at::Tensor q = linear(q_proj, t.slice(1, 0, 1)).view({b, 1, heads, head}).transpose(1, 2);
  const at::Tensor k = linear(k_proj, t).view({b, length, heads, head}).transpose(1, 2);
  const at::Tensor v = linear(v_proj, t).view({b, length, heads, head}).transpose(1, 2);
  const at::Tensor out = attention(q, k, v, {}).transpose(1, 2).reshape({b, c});
  return linear(c_proj, out);
}

BottleneckImpl::BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride_) : stride(stride_) {
  conv1 = register_module("conv1", conv(inplanes, planes, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv(planes, planes * kExpansion, 1));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion));
  if (stride > 1 || inplanes != planes * kExpansion) {
    torch::nn::Sequential d;
    d->push_back("-1", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions({stride, stride})));
    d->push_back("0", conv(inplanes, planes * kExpansion, 1));
    d->push_back("1", torch::nn::BatchNorm2d(planes * kExpansion));
    downsample = register_module("downsample", d);
  }
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = at::relu(batch_norm(*bn1, conv1(x)));
  out = at::relu(batch_norm(*bn2, conv2(out)));
  out = batch_norm(*bn3, conv3(avg_pool(out, stride)));
  at::Tensor identity = x;
  if (downsample) {
    identity = avg_pool(x, stride);
    identity = batch_norm(*downsample[2]->as<torch::nn::BatchNorm2d>(), downsample[1]->as<torch::nn::Conv2d>()->forward(identity));
  }
  return at::relu(out + identity);
}

ModifiedResNetImpl::ModifiedResNetImpl(const config::VisionConfig& c, int64_t output_dim) : width_(c.width) {
  MMCL_CHECK(c.image_size % 32 == 0, "a ResNet tower needs images of a multiple of 32 pixels, not ", c.image_size);
  const int64_t w = c.width;
  conv1 = register_module("conv1", conv(3, w / 2, 3, 2));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(w / 2));
  conv2 = register_module("conv2", conv(w / 2, w / 2, 3));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(w / 2));
  conv3 = register_module("conv3", conv(w / 2, w, 3));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(w));
  int64_t inplanes = w;
  const auto stage = [&](int64_t planes, int64_t blocks, int64_t stride) {
    torch::nn::Sequential s;
    for (int64_t i = 0; i < blocks; ++i) {
      s->push_back(Bottleneck(inplanes, planes, i == 0 ? stride : 1));
      inplanes = planes * BottleneckImpl::kExpansion;
    }
    return s;
  };
  layer1 = register_module("layer1", stage(w, c.resnet_layers[0], 1));
  layer2 = register_module("layer2", stage(w * 2, c.resnet_layers[1], 2));
  layer3 = register_module("layer3", stage(w * 4, c.resnet_layers[2], 2));
  layer4 = register_module("layer4", stage(w * 8, c.resnet_layers[3], 2));
  attnpool = register_module("attnpool", AttentionPool2d(c.image_size / 32, w * 32, w * 32 / c.head_width, output_dim));

  // open_clip's ModifiedResNet.init_parameters: the attention pool's projections at std width^-1/2, and
  // each block's last BatchNorm scale at zero (every block starts as its shortcut).
  torch::NoGradGuard no_grad;
  const double std = 1 / std::sqrt(static_cast<double>(attnpool->c_proj->weight.size(1)));
  for (auto* l : {&attnpool->q_proj, &attnpool->k_proj, &attnpool->v_proj, &attnpool->c_proj}) (*l)->weight.normal_(0, std);
  for (auto* layer : {&layer1, &layer2, &layer3, &layer4})
    for (const auto& block : **layer) block.ptr()->as<BottleneckImpl>()->bn3->weight.zero_();
}

at::Tensor ModifiedResNetImpl::features(const at::Tensor& images) {
  at::Tensor x = at::relu(batch_norm(*bn1, conv1(images)));
  x = at::relu(batch_norm(*bn2, conv2(x)));
  x = at::relu(batch_norm(*bn3, conv3(x)));
  x = avg_pool(x, 2);
  for (auto* layer : {&layer1, &layer2, &layer3, &layer4})
    for (const auto& block : **layer) x = block.ptr()->as<BottleneckImpl>()->forward(x);
  return x;
}

at::Tensor ModifiedResNetImpl::forward(const at::Tensor& images) { return attnpool(features(images)); }

}  // namespace mmcl::models

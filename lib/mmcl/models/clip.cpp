#include "mmcl/models/clip.h"

#include <cmath>

#include <torch/nn/init.h>

#include "mmcl/core/error.h"

namespace mmcl::models {
namespace {
Activation activation_of(const config::ModelConfig& c) { return c.quick_gelu ? Activation::kQuickGelu : Activation::kGelu; }
}  // namespace

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-12); }

VisionTransformerImpl::VisionTransformerImpl(const config::VisionConfig& c, int64_t embed_dim, Activation activation) {
  MMCL_CHECK(c.image_size % c.patch_size == 0, "image size ", c.image_size, " is not a multiple of patch size ", c.patch_size);
  const int64_t grid = c.image_size / c.patch_size;
  const double scale = std::pow(static_cast<double>(c.width), -0.5);
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.width, c.patch_size).stride(c.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", torch::randn({c.width}) * scale);
  positional_embedding = register_parameter("positional_embedding", torch::randn({grid * grid + 1, c.width}) * scale);
  ln_pre = register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.width})));
  transformer = register_module(
      "transformer", Transformer(c.width, c.layers, c.width / c.head_width, c.mlp_ratio, activation));
  ln_post = register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.width})));
  proj = register_parameter("proj", torch::randn({c.width, embed_dim}) * scale);
  // The transformer keeps PyTorch's initialisation (xavier-uniform attention, default Linear), as open_clip's
  // VisionTransformer, whose init_parameters is not called.
}

at::Tensor VisionTransformerImpl::tokens(const at::Tensor& images) {
  at::Tensor x = conv1(images);                 // [B, W, g, g]
  x = x.flatten(2).transpose(1, 2);             // [B, g*g, W]
  const at::Tensor cls = class_embedding.to(x.dtype()).expand({x.size(0), 1, x.size(2)});
  x = at::cat({cls, x}, 1) + positional_embedding.to(x.dtype());
  return transformer(ln_pre(x));
}

at::Tensor VisionTransformerImpl::forward(const at::Tensor& images) {
  return at::matmul(ln_post(tokens(images).select(1, 0)), proj);
}

ClipImpl::ClipImpl(const config::ModelConfig& c) : config_(c) {
  const Activation activation = activation_of(c);
  const auto& t = c.text;
  if (c.vision.tower == VisionTower::resnet)
    visual_rn = register_module("visual", ModifiedResNet(c.vision, c.embed_dim));
  else
    visual = register_module("visual", VisionTransformer(c.vision, c.embed_dim, activation));
  token_embedding = register_module("token_embedding", torch::nn::Embedding(t.vocab_size, t.width));
  positional_embedding = register_parameter("positional_embedding", torch::empty({t.context_length, t.width}));
  transformer = register_module("transformer", Transformer(t.width, t.layers, t.heads, t.mlp_ratio, activation));
  ln_final = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({t.width})));
  text_projection = register_parameter("text_projection", torch::empty({t.width, c.embed_dim}));
  logit_scale = register_parameter("logit_scale", torch::full({}, c.init_logit_scale));
  if (c.logit_bias) logit_bias = register_parameter("logit_bias", torch::full({}, c.init_logit_bias));

  // open_clip's CLIP.init_parameters
  torch::NoGradGuard no_grad;
  token_embedding->weight.normal_(0, 0.02);
  positional_embedding.normal_(0, 0.01);
  transformer->init_parameters();
  text_projection.normal_(0, std::pow(static_cast<double>(t.width), -0.5));
}

at::Tensor ClipImpl::encode_image(const at::Tensor& images, bool normalize) {
  at::Tensor features = visual ? visual(images) : visual_rn(images);
  return normalize ? l2_normalize(features) : features;
}

at::Tensor ClipImpl::image_tokens(const at::Tensor& images) {
  if (visual) return visual->tokens(images).slice(1, 1);
  return visual_rn->attnpool->tokens(visual_rn->features(images)).slice(1, 1);
}

int64_t ClipImpl::image_token_width() const {
  return visual ? config_.vision.width : visual_rn->feature_width();
}

at::Tensor ClipImpl::text_tokens(const at::Tensor& ids) {
  const int64_t length = ids.size(1);
  MMCL_CHECK(length <= positional_embedding.size(0), "text of ", length, " tokens exceeds the context length ",
             positional_embedding.size(0));
  at::Tensor x = token_embedding(ids) + positional_embedding.slice(0, 0, length);
  if (!mask_.defined() || mask_.size(0) != length || mask_.device() != x.device() || mask_.dtype() != x.dtype())
    mask_ = causal_mask(length, x.options());
  return ln_final(transformer(x, mask_));
}

at::Tensor ClipImpl::encode_text(const at::Tensor& ids, bool normalize) {
  const at::Tensor x = text_tokens(ids);
  const at::Tensor eot = ids.argmax(-1);
  const at::Tensor rows = at::arange(x.size(0), eot.options());
  at::Tensor features = at::matmul(x.index({rows, eot}), text_projection);
  return normalize ? l2_normalize(features) : features;
}

Embeddings ClipImpl::forward(const data::Batch& batch) {
  MMCL_CHECK(batch.image.defined() || batch.text.defined(), "CLIP needs images or texts in a batch");
  Embeddings out;
  if (batch.image.defined()) out.by_modality["image"] = encode_image(batch.image);
  if (batch.text.defined()) out.by_modality["text"] = encode_text(batch.text);
  out.logit_scale = logit_scale.exp();
  out.logit_bias = logit_bias;
  return out;
}

int64_t ClipImpl::lock_image(int64_t unlocked_groups) {
  // open_clip's groups, first to last.
  std::vector<std::vector<at::Tensor>> groups;
  if (visual) {
    groups.push_back({visual->conv1->weight, visual->class_embedding, visual->positional_embedding});
    for (const auto& p : visual->ln_pre->parameters()) groups.back().push_back(p);
    for (const auto& block : *visual->transformer->resblocks) groups.push_back(block->parameters());
    // The last block goes with ln_post, then proj alone.
    std::vector<at::Tensor> last = groups.back();
    groups.pop_back();
    for (const auto& p : visual->ln_post->parameters()) last.push_back(p);
    groups.push_back(last);
    groups.push_back({visual->proj});
  } else {
    auto& r = *visual_rn;
    groups.push_back({});
    for (auto* m : std::vector<torch::nn::Module*>{r.conv1.get(), r.bn1.get(), r.conv2.get(), r.bn2.get(), r.conv3.get(), r.bn3.get()})
      for (const auto& p : m->parameters()) groups.back().push_back(p);
    for (auto* layer : {&r.layer1, &r.layer2, &r.layer3, &r.layer4}) groups.push_back((*layer)->parameters());
    groups.push_back(r.attnpool->parameters());
  }
  int64_t frozen = 0;
  const auto locked = static_cast<int64_t>(groups.size()) - std::min<int64_t>(unlocked_groups, groups.size());
  for (int64_t g = 0; g < locked; ++g)
    for (auto& p : groups[static_cast<size_t>(g)]) p.requires_grad_(false), ++frozen;
  return frozen;
}

void ClipImpl::after_step() {
  torch::NoGradGuard no_grad;
  logit_scale.clamp_(config_.min_logit_scale, config_.max_logit_scale);
}

data::InputSpec ClipImpl::input_spec() const {
  data::InputSpec spec;
  spec.image_size = config_.vision.image_size;
  spec.context_length = config_.text.context_length;
  spec.vocab_size = config_.text.vocab_size;
  return spec;
}

}  // namespace mmcl::models

#pragma once
// CLIP: Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision".
// A ViT or ModifiedResNet (model.vision.tower) image tower and a causal text transformer projected into
// one space; the logits are
// exp(t) * <image, text> of the L2-normalised embeddings (Sec. 2.3 and Fig. 3 of the paper).
// Parameter names and shapes follow open_clip's CLIP class, so its state dicts map one to one.

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>

#include "mmcl/models/model.h"
#include "mmcl/models/modified_resnet.h"
#include "mmcl/models/transformer.h"

namespace mmcl::models {

// x / ||x|| along the last dimension (rows of norm 0 stay 0).
at::Tensor l2_normalize(const at::Tensor& x);

// Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words": conv patch embedding, class token,
// learned positions, pre-LN transformer, LN on the class token, linear projection.
class VisionTransformerImpl : public torch::nn::Module {
 public:
  VisionTransformerImpl(const config::VisionConfig& config, int64_t embed_dim, Activation activation);
  // images [B, 3, S, S] -> [B, embed_dim] (not normalised)
  at::Tensor forward(const at::Tensor& images);
  // The transformer's outputs before ln_post: [B, 1 + patches, width], the class token first.
  at::Tensor tokens(const at::Tensor& images);

  torch::nn::Conv2d conv1{nullptr};
  at::Tensor class_embedding, positional_embedding, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTransformer);

class ClipImpl : public ContrastiveModel {
 public:
  explicit ClipImpl(const config::ModelConfig& config);

  at::Tensor encode_image(const at::Tensor& images, bool normalize = true);
  // The image tower's per-position states before its pooling: a ViT's patch outputs (before ln_post, the
  // class token left out) or a ResNet's attention-pool inputs (positions added, the mean token left out):
  // [B, positions, image_token_width()].
  at::Tensor image_tokens(const at::Tensor& images);
  int64_t image_token_width() const;
  // ids [B, context_length]; the features are taken at the end-of-text token, the largest id.
  at::Tensor encode_text(const at::Tensor& ids, bool normalize = true);
  // The text transformer's outputs after ln_final, before the projection: [B, L, width].
  at::Tensor text_tokens(const at::Tensor& ids);
  Embeddings forward(const data::Batch& batch) override;
  void after_step() override;
  // LiT: no gradient for the image tower but its last `unlocked_groups` layer groups (open_clip's
  // lock_image_tower); returns the number of tensors frozen.
  int64_t lock_image(int64_t unlocked_groups);
  data::InputSpec input_spec() const override;
  int64_t embedding_dim() const override { return config_.embed_dim; }
  const config::ModelConfig& model_config() const { return config_; }

  VisionTransformer visual{nullptr};  // model.vision.tower vit (registered as "visual")
  ModifiedResNet visual_rn{nullptr};  // model.vision.tower resnet (registered as "visual")
  torch::nn::Embedding token_embedding{nullptr};
  at::Tensor positional_embedding;
  Transformer transformer{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};
  at::Tensor text_projection, logit_scale;
  at::Tensor logit_bias;  // model.logit_bias (undefined without)

 private:
  config::ModelConfig config_;
  at::Tensor mask_;  // causal mask, built once per device and dtype
};

}  // namespace mmcl::models

#pragma once
// VATT: Akbari et al., "VATT: Transformers for Multimodal Self-Supervised Learning from Raw Video, Audio
// and Text", NeurIPS 2021. Each modality is cut into tokens by its own linear tokeniser:
//   video [B, T, 3, S, S] -> t x h x w voxel patches (a Conv3d whose kernel equals its stride) plus
//     factorised learned positions pos_t[i] + pos_h[j] + pos_w[k];
//   audio [B, samples] -> windows of audio_patch waveform samples through a Linear, plus learned positions;
//   text ids [N, L] (0 = padding) -> word vectors (model.vatt.text.embedding_dim wide, then Linear without
//     bias + GELU to the text tower's width; with embedding_dim 0 the vectors are of the width and not
//     projected), plus learned positions with
//     the backbone's transformer (model.vatt.text.tower backbone); the T5 tower has relative positions.
// While training, DropToken keeps a random subset of the video and audio tokens (never of the text).
// A learned aggregation token is prepended per modality (for text in the word vectors' space, before the
// projection, as the official code); the modality's output is a LayerNorm (ln_post) of that token's final
// state. The backbone is a pre-LN transformer per modality ("specific") or one transformer shared by all
// three ("agnostic", VATT-MA); tokenisers, positions, aggregation tokens and ln_post stay per modality
// either way. With model.vatt.text.tower t5 (the default with "specific") the text has its own T5
// encoder (models/t5.h) of model.vatt.text.{width, layers, heads}, ending in its RMS norm (no ln_post). Padded words are never attended to; a caption whose ids are all
// 0 (a missing caption) is not encoded and its embedding is a zero row.
// Common spaces (fine and coarse), the official code's FAC head: video goes into a va_dim space through
// Linear (no bias) -> BatchNorm -> ReLU -> Linear -> BatchNorm, audio through a Linear; video continues
// from there through ReLU -> Linear -> BatchNorm into a vt_dim space, where the text is projected by a
// Linear map. Every returned embedding is L2-normalised:
//   "video"    [B, vt_dim]  video in the video-text space
//   "video_va" [B, va_dim]  video in the video-audio space
//   "audio"    [B, va_dim]
//   "text"     [N, vt_dim] for ids [N, L]; [B, K, vt_dim] for K captions per sample [B, K, L], with
//   "text_mask" [B, K] float (1: a caption, 0: missing).

#include <string>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "mmcl/models/model.h"
#include "mmcl/models/t5.h"
#include "mmcl/models/transformer.h"

namespace mmcl::text {
class Tokenizer;
}

namespace mmcl::models {

// DropToken: x [B, N, d] -> [B, n, d] with n = max(1, round(N (1 - rate))) tokens per sample, drawn
// uniformly without replacement and independently per sample, kept in their original order. rate 0
// returns x itself; rate must lie in [0, 1).
at::Tensor drop_tokens(const at::Tensor& x, double rate);

class VattImpl : public ContrastiveModel {
 public:
  explicit VattImpl(const config::ModelConfig& config);
  Embeddings forward(const data::Batch& batch) override;
  data::InputSpec input_spec() const override;
  int64_t embedding_dim() const override { return config_.vatt.vt_dim; }
  // Audio lives in the video-audio space; video and text in the video-text space.
  int64_t embedding_dim_of(const std::string& modality) const override {
    return modality == "audio" ? config_.vatt.va_dim : config_.vatt.vt_dim;
  }

  // The modality outputs (ln_post of the aggregation token), not projected nor normalised.
  // clips [B, T, 3, S, S] -> [B, d]
  at::Tensor encode_video(const at::Tensor& clips);
  // waveforms [B, audio_samples] -> [B, d]
  at::Tensor encode_audio(const at::Tensor& waveforms);
  // ids [N, L] -> [N, d]; every row must hold at least one nonzero id.
  at::Tensor encode_text(const at::Tensor& ids);

  // Tokenisers.
  torch::nn::Conv3d video_embed{nullptr};
  at::Tensor video_pos_t, video_pos_h, video_pos_w;  // [T', d], [H', d], [W', d]
  torch::nn::Linear audio_embed{nullptr};
  at::Tensor audio_pos;  // [N_a, d]
  torch::nn::Embedding text_embed{nullptr};  // [vocab, E] word vectors
  torch::nn::Linear text_pre_proj{nullptr};  // E -> the text tower's width (then GELU); null when equal
  at::Tensor text_pos;  // [L, d]; undefined with the T5 tower

  // Aggregation tokens [d] and the LayerNorms applied to their final states.
  at::Tensor video_agg, audio_agg, text_agg;
  torch::nn::LayerNorm video_ln_post{nullptr}, audio_ln_post{nullptr}, text_ln_post{nullptr};

  // The backbones; with backbone "agnostic" the three handles hold one module (named "transformer").
  Transformer video_transformer{nullptr}, audio_transformer{nullptr}, text_transformer{nullptr};
  T5Encoder text_t5{nullptr};  // the T5 text tower (text_transformer and text_ln_post are then null)

  // Common-space projections.
  // The official FAC head: video -> va is Linear (no bias) -> BatchNorm -> ReLU -> Linear -> BatchNorm;
  // audio -> va and text -> vt are one Linear; va -> vt is ReLU -> Linear -> BatchNorm (video_vt).
  torch::nn::Sequential video_va{nullptr};
  torch::nn::Linear audio_va{nullptr}, text_vt{nullptr};
  torch::nn::Sequential video_vt{nullptr};  // ReLU -> Linear(va_dim, vt_dim) -> BatchNorm1d(vt_dim)

 private:
  // Prepends the aggregation token, runs the backbone and returns ln_post of the token's final state.
  at::Tensor aggregate(const at::Tensor& tokens, const at::Tensor& agg, Transformer& transformer,
                       torch::nn::LayerNorm& ln_post, const at::Tensor& mask = {});

  config::ModelConfig config_;
  int64_t text_width_ = 0;
};

// The text tower model.vatt.text.tower resolves to for this config (auto: t5 unless the backbone is shared).
VattTextTower vatt_text_tower(const config::VattConfig& c);

// Starts the word vectors of a VATT model from a word2vec file: each id whose text (tokenizer.token_text)
// the file has, exactly or else lower-cased, gets its vector. Returns the number of ids found; throws a
// ConfigError naming the file when it is unreadable, malformed, or of another dimension than the model's.
int64_t load_word_vectors(VattImpl& model, const text::Tokenizer& tokenizer, const std::string& path);

}  // namespace mmcl::models

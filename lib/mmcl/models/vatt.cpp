#include "mmcl/models/vatt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <unordered_set>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/models/clip.h"  // l2_normalize
#include "mmcl/models/sync_batchnorm.h"
#include "mmcl/text/tokenizer.h"
#include "mmcl/text/word_vectors.h"

namespace mmcl::models {

at::Tensor drop_tokens(const at::Tensor& x, double rate) {
  MMCL_CHECK(x.dim() == 3, "drop_tokens: expected tokens [B, N, d], got ", x.sizes());
  MMCL_CHECK(rate >= 0 && rate < 1, "drop_tokens: the rate must lie in [0, 1), got ", rate);
  if (rate == 0) return x;
  const int64_t batch = x.size(0), tokens = x.size(1), width = x.size(2);
  const int64_t kept =
      std::min(tokens, std::max<int64_t>(1, std::llround(static_cast<double>(tokens) * (1.0 - rate))));
  if (kept == tokens) return x;
  // The first `kept` positions of a random permutation per sample, put back in their original order.
  const at::Tensor noise = at::rand({batch, tokens}, x.options().dtype(at::kFloat));
  const at::Tensor chosen = noise.argsort(/*dim=*/int64_t{1}, /*descending=*/false).slice(1, 0, kept);
  const at::Tensor index = std::get<0>(chosen.sort(/*dim=*/int64_t{1}));
  return x.gather(1, index.unsqueeze(-1).expand({batch, kept, width}));
}

VattTextTower vatt_text_tower(const config::VattConfig& c) {
  if (c.text.tower != VattTextTower::automatic) return c.text.tower;
  return c.backbone == VattBackbone::agnostic ? VattTextTower::backbone : VattTextTower::t5;
}

VattImpl::VattImpl(const config::ModelConfig& config) : config_(config) {
  const config::VattConfig& c = config.vatt;
  const config::VattTextConfig& tc = c.text;
  const bool t5 = vatt_text_tower(c) == VattTextTower::t5;
  const int64_t frames = config.video.frames, size = config.video.size;
  const int64_t context = config.text.context_length, vocab = config.text.vocab_size;
  const auto& patch = c.video_patch;
  // The config loader has checked every shape rule (config/load.cpp): the constructor trusts it.

  const int64_t d = c.width;
  video_embed = register_module(
      "video_embed", torch::nn::Conv3d(torch::nn::Conv3dOptions(3, d, {patch[0], patch[1], patch[2]})
                                           .stride({patch[0], patch[1], patch[2]})));
  video_pos_t = register_parameter("video_pos_t", torch::empty({frames / patch[0], d}));
  video_pos_h = register_parameter("video_pos_h", torch::empty({size / patch[1], d}));
  video_pos_w = register_parameter("video_pos_w", torch::empty({size / patch[2], d}));
  audio_embed = register_module("audio_embed", torch::nn::Linear(c.audio_patch, d));
  audio_pos = register_parameter("audio_pos", torch::empty({c.audio_samples / c.audio_patch, d}));
  text_width_ = t5 ? tc.width : d;
  const int64_t e = tc.embedding_dim > 0 ? tc.embedding_dim : text_width_;  // the word vectors' size
  text_embed = register_module("text_embed", torch::nn::Embedding(vocab, e));
  if (tc.embedding_dim > 0)
    text_pre_proj = register_module("text_pre_proj",
                                    torch::nn::Linear(torch::nn::LinearOptions(e, text_width_).bias(false)));
  if (!t5) text_pos = register_parameter("text_pos", torch::empty({context, d}));

  video_agg = register_parameter("video_agg", torch::empty({d}));
  audio_agg = register_parameter("audio_agg", torch::empty({d}));
  text_agg = register_parameter("text_agg", torch::empty({e}));
  video_ln_post = register_module("video_ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  audio_ln_post = register_module("audio_ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  if (!t5) text_ln_post = register_module("text_ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));

  const auto make_transformer = [&] {
    Transformer t(d, c.layers, c.heads, c.mlp_ratio, Activation::kGelu, c.dropout);
    t->init_parameters();
    return t;
  };
  if (c.backbone == VattBackbone::agnostic) {
    video_transformer = register_module("transformer", make_transformer());
    audio_transformer = video_transformer;
    text_transformer = video_transformer;
  } else {
    video_transformer = register_module("video_transformer", make_transformer());
    audio_transformer = register_module("audio_transformer", make_transformer());
    if (!t5) text_transformer = register_module("text_transformer", make_transformer());
  }
  if (t5)
    text_t5 = register_module("text_t5", T5Encoder(tc.width, tc.layers, tc.heads, tc.mlp_ratio, tc.relative_buckets,
                                                   tc.relative_max_distance, c.dropout));

  video_va = register_module(
      "video_va", torch::nn::Sequential(torch::nn::Linear(torch::nn::LinearOptions(d, c.va_dim).bias(false)),
                                        torch::nn::BatchNorm1d(c.va_dim), torch::nn::ReLU(),
                                        torch::nn::Linear(c.va_dim, c.va_dim), torch::nn::BatchNorm1d(c.va_dim)));
  audio_va = register_module("audio_va", torch::nn::Linear(d, c.va_dim));
  video_vt = register_module("video_vt", torch::nn::Sequential(torch::nn::ReLU(), torch::nn::Linear(c.va_dim, c.vt_dim),
                                                                torch::nn::BatchNorm1d(c.vt_dim)));
  text_vt = register_module("text_vt", torch::nn::Linear(text_width_, c.vt_dim));

  torch::NoGradGuard no_grad;
  for (at::Tensor* p : {&video_pos_t, &video_pos_h, &video_pos_w, &audio_pos, &text_pos, &video_agg, &audio_agg, &text_agg})
    if (p->defined()) p->normal_(0, 0.02);
  if (tc.freeze_embeddings) text_embed->weight.requires_grad_(false);
}

at::Tensor VattImpl::aggregate(const at::Tensor& tokens, const at::Tensor& agg, Transformer& transformer,
                               torch::nn::LayerNorm& ln_post, const at::Tensor& mask) {
  const at::Tensor first = agg.to(tokens.dtype()).expand({tokens.size(0), 1, tokens.size(2)});
  const at::Tensor x = transformer->forward(at::cat({first, tokens}, 1), mask);
  return ln_post(x.select(1, 0));
}

at::Tensor VattImpl::encode_video(const at::Tensor& clips) {
  const int64_t frames = config_.video.frames, size = config_.video.size;
  MMCL_CHECK(clips.dim() == 5 && clips.size(1) == frames && clips.size(2) == 3 && clips.size(3) == size &&
                 clips.size(4) == size,
             "VATT: expected clips [B, ", frames, ", 3, ", size, ", ", size, "] (model.video.frames, model.video.size), got ",
             clips.sizes());
  at::Tensor x = video_embed(clips.permute({0, 2, 1, 3, 4}));  // [B, d, T', H', W']
  const int64_t d = x.size(1), t = x.size(2), h = x.size(3), w = x.size(4);
  x = x.flatten(2).transpose(1, 2);                              // [B, T'H'W', d]
  const at::Tensor pos = (video_pos_t.view({t, 1, 1, d}) + video_pos_h.view({1, h, 1, d}) + video_pos_w.view({1, 1, w, d}))
                             .reshape({t * h * w, d});
  x = x + pos.to(x.dtype());
  if (is_training()) x = drop_tokens(x, config_.vatt.video_droptoken);
  return aggregate(x, video_agg, video_transformer, video_ln_post);
}

at::Tensor VattImpl::encode_audio(const at::Tensor& waveforms) {
  const int64_t samples = config_.vatt.audio_samples, patch = config_.vatt.audio_patch;
  MMCL_CHECK(waveforms.dim() == 2 && waveforms.size(1) == samples, "VATT: expected waveforms [B, ", samples,
             "] (model.vatt.audio_samples), got ", waveforms.sizes());
  at::Tensor x = audio_embed(waveforms.reshape({waveforms.size(0), samples / patch, patch}));  // [B, N_a, d]
  x = x + audio_pos.to(x.dtype());
  if (is_training()) x = drop_tokens(x, config_.vatt.audio_droptoken);
  return aggregate(x, audio_agg, audio_transformer, audio_ln_post);
}

at::Tensor VattImpl::encode_text(const at::Tensor& ids) {
  const int64_t context = config_.text.context_length;
  MMCL_CHECK(ids.dim() == 2 && ids.size(1) <= context, "VATT: expected ids [N, L] with L <= ", context,
             " (model.text.context_length), got ", ids.sizes());
  const int64_t n = ids.size(0), length = ids.size(1);
  const at::Tensor words = text_embed(ids);  // [N, L, E]
  // The aggregation token goes first, in the word vectors' space (projected with them).
  at::Tensor x = at::cat({text_agg.to(words.dtype()).expand({n, 1, words.size(2)}), words}, 1);
  if (text_pre_proj) x = at::gelu(linear(text_pre_proj, x));
  // The aggregation token is always visible, padded words never.
  const at::Tensor padded = at::cat({at::zeros({n, 1}, ids.options().dtype(at::kBool)), ids.eq(0)}, 1);
  if (text_t5) return text_t5->forward(x, padded).select(1, 0);
  x = x + at::cat({at::zeros({1, text_width_}, text_pos.options()), text_pos.slice(0, 0, length)}).to(x.dtype());
  const at::Tensor mask = at::zeros(padded.sizes(), x.options())
                              .masked_fill(padded, -std::numeric_limits<double>::infinity())
                              .view({n, 1, 1, length + 1});
  return text_ln_post(text_transformer->forward(x, mask).select(1, 0));
}

Embeddings VattImpl::forward(const data::Batch& batch) {
  MMCL_CHECK(batch.video.defined() || batch.audio.defined() || batch.text.defined(),
             "VATT needs video, audio or text in a batch");
  Embeddings out;
  at::TensorOptions options;
  if (batch.video.defined()) {
    const at::Tensor va = forward_with_sync_bn(*video_va, encode_video(batch.video));
    out.by_modality["video"] = l2_normalize(forward_with_sync_bn(*video_vt, va));
    out.by_modality["video_va"] = l2_normalize(va);
    options = va.options();
  }
  if (batch.audio.defined()) {
    const at::Tensor a = l2_normalize(audio_va(encode_audio(batch.audio)));
    out.by_modality["audio"] = a;
    options = a.options();
  }
  if (batch.text.defined()) {
    const at::Tensor& text = batch.text;
    MMCL_CHECK(text.dim() == 2 || text.dim() == 3, "VATT: expected text ids [N, L] or [B, K, L], got ", text.sizes());
    const at::Tensor ids = text.reshape({-1, text.size(-1)});
    // Only the captions with a word are encoded; the others (all 0: missing) stay zero rows.
    const at::Tensor present = ids.ne(0).any(1);
    const at::Tensor rows = present.nonzero().squeeze(1);
    at::Tensor embedded = at::zeros({ids.size(0), config_.vatt.vt_dim}, text_vt->weight.options());
    if (rows.numel() > 0) {
      const at::Tensor t = l2_normalize(text_vt(encode_text(ids.index_select(0, rows))));
      embedded = embedded.to(t.dtype()).index_copy(0, rows, t);
    }
    options = embedded.options();
    if (text.dim() == 3) {
      out.by_modality["text"] = embedded.view({text.size(0), text.size(1), config_.vatt.vt_dim});
      out.by_modality["text_mask"] = present.view({text.size(0), text.size(1)}).to(at::kFloat);
    } else {
      out.by_modality["text"] = embedded;
    }
  }
  out.logit_scale = at::zeros({}, options);  // the loss's temperature is fixed
  return out;
}

int64_t load_word_vectors(VattImpl& model, const text::Tokenizer& tokenizer, const std::string& path) {
  at::Tensor& table = model.text_embed->weight;
  const int64_t ids = std::min(table.size(0), tokenizer.vocab_size());
  std::vector<std::string> texts(static_cast<size_t>(ids));
  std::unordered_set<std::string> wanted;
  for (int64_t id = 1; id < ids; ++id) {  // 0 is padding
    texts[static_cast<size_t>(id)] = tokenizer.token_text(id);
    if (!texts[static_cast<size_t>(id)].empty()) wanted.insert(texts[static_cast<size_t>(id)]);
  }
  const text::WordVectors vectors = text::read_word_vectors(path, wanted);
  if (vectors.dim != table.size(1))
    throw ConfigError(str_cat(path, ": word vectors of ", vectors.dim, " dimensions; the model's are ", table.size(1),
                              " (model.vatt.text.embedding_dim)"));
  int64_t found = 0;
  torch::NoGradGuard no_grad;
  for (int64_t id = 1; id < ids; ++id) {
    const auto it = vectors.vectors.find(texts[static_cast<size_t>(id)]);
    if (it == vectors.vectors.end()) continue;
    table[id].copy_(at::tensor(it->second, at::kFloat));
    ++found;
  }
  spdlog::info("{}: word vectors for {} of the {} vocabulary entries ({} words in the file)", path, found, ids - 1,
               vectors.words_read);
  return found;
}

data::InputSpec VattImpl::input_spec() const {
  data::InputSpec spec;
  spec.video_frames = config_.video.frames;
  spec.video_size = config_.video.size;
  spec.video_views = 1;
  spec.audio_samples = config_.vatt.audio_samples;
  spec.audio_rate = config_.vatt.audio_rate;
  spec.context_length = config_.text.context_length;
  spec.vocab_size = config_.text.vocab_size;
  return spec;
}

}  // namespace mmcl::models

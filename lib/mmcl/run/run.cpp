#include "mmcl/run/run.h"

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/core/runtime.h"
#include "mmcl/dist/launch.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/models/clip.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/models/vatt.h"
#include "mmcl/text/factory.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::run {
namespace {

// The model of a checkpoint (its own resolved config) or, without one, of this config with
// model.pretrained; the tokenizer a checkpoint's model was trained with.
void from_checkpoint(Run& r, const Request& request) {
  const config::RunConfig& c = r.config;
  if (request.checkpoint.empty()) {
    if (c.model.pretrained.empty()) throw ConfigError("eval.checkpoint or model.pretrained must be set");
    r.model_config = c.model;
    r.can = &model_capabilities(r.model_config.name);
    if (request.tokenizer && r.can->has(Modality::text)) {
      if (c.tokenizer.name != TokenizerKind::clip_bpe)
        throw ConfigError("tokenizer.name: pretrained CLIP weights read CLIP's BPE ids; set tokenizer.name: clip_bpe "
                          "and tokenizer.vocab");
      r.tokenizer = text::restore_tokenizer(c.tokenizer, "", c.tokenizer.vocab);
    }
    seed_everything(static_cast<uint64_t>(c.run.seed));
    r.model = models::make_model(r.model_config);
    models::load_pretrained(*r.model, c.model.pretrained);
    return;
  }
  r.checkpoint = io::resolve_checkpoint(request.checkpoint);
  const io::CheckpointMeta meta = io::checkpoint_meta(r.checkpoint);
  const config::RunConfig saved = config::load_resolved_config(meta.config_yaml, r.checkpoint);
  r.model_config = saved.model;
  r.can = &model_capabilities(r.model_config.name);
  // A learned vocabulary travels in the checkpoint; CLIP BPE's file may have moved (tokenizer.vocab).
  if (request.tokenizer && r.can->has(Modality::text))
    r.tokenizer = text::restore_tokenizer(saved.tokenizer, meta.tokenizer, c.tokenizer.vocab);
  seed_everything(static_cast<uint64_t>(c.run.seed));
  r.model = models::make_model(r.model_config);
  // checkpoint_meta has verified the file's checksum.
  const io::CheckpointInfo info = io::load_checkpoint(r.checkpoint, *r.model, nullptr, /*verify=*/false);
  r.checkpoint_step = info.state.step;
  spdlog::info("loaded {} (step {}, model {})", r.checkpoint, info.state.step, r.model_config.name);
}

// The tokenizer a fresh model of this config trains with, when it reads text and the data has
// captions to tokenize; a learned vocabulary sizes the text tower (model.text.vocab_size).
void training_tokenizer(Run& r) {
  config::RunConfig& c = r.config;
  if (!dataset_capabilities(c.data.type).tokenizes || !model_capabilities(c.model.name).has(Modality::text)) return;
  text::TrainingTokenizer t = text::training_tokenizer(c.tokenizer, [&] { return data::training_captions(c.data); });
  if (c.tokenizer.name == TokenizerKind::words) {
    spdlog::info("model.text.vocab_size {} -> {} (the learned vocabulary)", c.model.text.vocab_size, t.vocab_size);
    c.model.text.vocab_size = t.vocab_size;
  } else if (t.vocab_size != c.model.text.vocab_size) {
    throw ConfigError(str_cat("model.text.vocab_size: ", c.model.text.vocab_size, " does not match the ", t.vocab_size,
                              " tokens of ", c.tokenizer.vocab.empty() ? "the built-in CLIP BPE vocabulary" : c.tokenizer.vocab));
  }
  r.tokenizer = std::move(t.tokenizer);
  r.tokenizer_state = std::move(t.state);
}

// A fresh model of this config, seeded by run.seed, from model.pretrained when set.
void from_config(Run& r, const Request& request) {
  const config::RunConfig& c = r.config;
  r.can = &model_capabilities(c.model.name);
  if (request.tokenizer) training_tokenizer(r);
  r.model_config = c.model;
  seed_everything(static_cast<uint64_t>(c.run.seed));
  r.model = models::make_model(r.model_config);
  if (!c.model.pretrained.empty()) models::load_pretrained(*r.model, c.model.pretrained);
  // LiT: the image tower frozen for this training (a checkpoint's model, fine-tuned or evaluated, is not).
  if (c.model.lock_image) {
    auto* clip = dynamic_cast<models::ClipImpl*>(r.model.get());
    MMCL_CHECK(clip, "model.lock_image: model ", c.model.name, " has no CLIP image tower");
    const int64_t frozen = clip->lock_image(c.model.lock_image_unlocked_groups);
    spdlog::info("model.lock_image: {} image tower tensors frozen ({} last layer groups train)", frozen,
                 c.model.lock_image_unlocked_groups);
  }
  // VATT's word vectors from a word2vec file, for the ids of the training tokenizer.
  if (auto* vatt = dynamic_cast<models::VattImpl*>(r.model.get()); vatt && !c.model.vatt.text.embeddings.empty()) {
    if (!r.tokenizer)
      spdlog::warn("model.vatt.text.embeddings: this run has no tokenizer (its data has no captions); the word vectors "
                   "keep their random start");
    else
      models::load_word_vectors(*vatt, *r.tokenizer, c.model.vatt.text.embeddings);
  }
}

}  // namespace

Run resolve(const config::RunConfig& config, const Request& request) {
  Run r;
  r.config = config;
  r.device = select_device(config.runtime.device);
  if (request.process) r.device = dist::local_device(r.device, *request.process);
  r.precision = resolve_precision(config.runtime.precision, r.device);
  if (request.model == ModelFrom::none) {
    if (request.tokenizer) training_tokenizer(r);
    return r;
  }
  if (request.model == ModelFrom::checkpoint) {
    from_checkpoint(r, request);
  } else {
    from_config(r, request);
  }
  place_module(*r.model, r.device, r.precision.param_dtype());
  if (request.model == ModelFrom::checkpoint) r.model->eval();
  r.spec = r.model->input_spec();
  r.spec.tokenizer = r.tokenizer;
  if (request.dataset) r.dataset = data::make_dataset(r.config.data, r.spec, static_cast<uint64_t>(r.config.run.seed));
  return r;
}

Run resolve_checkpoint_model(const std::string& path) {
  config::RunConfig here;
  here.runtime.device = DeviceChoice::cpu;
  Request request;
  request.model = ModelFrom::checkpoint;
  request.checkpoint = path;
  request.tokenizer = false;
  return resolve(here, request);
}

}  // namespace mmcl::run

#pragma once
// A run resolved once from its loaded config: device, precision, tokenizer, model, the model's input
// spec and the training data, in that order. Every subcommand that builds a model resolves one here
// and hands its parts to the library (train::pretrain, train::finetune, eval::*, perf::*); nothing
// else resolves runtime.precision, picks the device or decides which tokenizer a model needs.

#include <memory>
#include <string>

#include <c10/core/Device.h>

#include "mmcl/config/config.h"
#include "mmcl/core/catalog.h"
#include "mmcl/core/precision.h"
#include "mmcl/data/dataset.h"
#include "mmcl/models/model.h"

namespace mmcl::text {
class Tokenizer;
}
namespace mmcl::dist {
struct Env;
}

namespace mmcl::run {

enum class ModelFrom {
  config,      // model.* of this config, initialised from run.seed (and model.pretrained when set): training
  checkpoint,  // the checkpoint's own config and weights (or this config with model.pretrained): evaluation
  none,        // no model: device, precision and the training tokenizer (tokenize)
};

struct Request {
  ModelFrom model = ModelFrom::config;
  // ModelFrom::checkpoint: a checkpoint file or run directory; "" means this config's model with
  // model.pretrained weights.
  std::string checkpoint;
  bool dataset = false;    // open data.train (the training data)
  // The tokenizer of a model that reads text: restored from the checkpoint, or for a fresh model the
  // one its training data is tokenized with (a learned vocabulary is learned here). false: none.
  bool tokenizer = true;
  // A training process: with several processes on CUDA, its device is its local rank's GPU.
  const dist::Env* process = nullptr;
};

struct Run {
  config::RunConfig config;         // this run's config; model.* follows a learned vocabulary's size
  config::ModelConfig model_config;  // the model's config: the checkpoint's, or config.model
  const Capabilities* can = nullptr;  // the model's entry in the model table
  c10::Device device = c10::Device("cpu");
  Precision precision;
  std::shared_ptr<const text::Tokenizer> tokenizer;  // null when the model reads no text (or for synthetic data)
  std::string tokenizer_state;  // a learned vocabulary (JSON) that checkpoints carry; "" for CLIP BPE
  models::ModelPtr model;       // on the device in the precision's parameter type; eval mode when from a checkpoint
  data::InputSpec spec;         // what the model reads, with the tokenizer
  std::shared_ptr<const data::Dataset> dataset;  // data.train when requested
  std::string checkpoint;       // the checkpoint file the model came from ("" otherwise)
  int64_t checkpoint_step = 0;
};

// Resolves `config` as `request` says. Problems with the config, the checkpoint or the data are
// ConfigErrors (exit 2) raised before anything is written.
Run resolve(const config::RunConfig& config, const Request& request);

// A checkpoint's model alone (file or run directory): on the CPU in float32, in eval mode, without its
// tokenizer (mmcl export).
Run resolve_checkpoint_model(const std::string& path);

}  // namespace mmcl::run

#pragma once
// The training loop: data -> model -> loss -> AdamW, with logging, checkpoints and exact resume.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/adamw.h>

#include "mmcl/config/config.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/data/batch.h"
#include "mmcl/data/dataset.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"
#include "mmcl/train/checkpoint.h"

#include "mmcl/data/loader.h"

namespace mmcl::train {

// Forward and backward for one optimiser step over `micro_batches`, accumulating into .grad.
// With several micro-batches the features of all of them meet in one loss (open_clip's accum_freq):
// a no-grad pass caches every micro-batch's embeddings, then each micro-batch is recomputed with
// grad and the loss over all is back-propagated through it alone. The summed gradient equals that
// of one batch holding every micro-batch (the logit scale's term is counted once).
struct StepStats {
  double loss = 0;
  double logit_scale = 0;  // the (exponentiated) scale the loss used
};
StepStats forward_backward(models::ContrastiveModel& model, const losses::Loss& loss,
                        const std::vector<data::Batch>& micro_batches);

// What the training loop trains: the module whose state is checkpointed, its optimiser, its data,
// and how one step computes gradients. pretrain and finetune each fill one in.
struct TrainingJob {
  torch::nn::Module* module = nullptr;
  torch::optim::AdamW* optimizer = nullptr;
  data::Loader* loader = nullptr;
  std::function<StepStats(const std::vector<data::Batch>&)> step;  // forward + backward of one step
  std::function<void()> after_step;                                // after the optimiser step, if set
  // At the end of each epoch, if set: may add figures (e.g. "eval/top1") to the epoch's metrics line.
  std::function<void(int64_t epoch, nlohmann::json& record)> at_epoch_end;
  std::string description;                                         // for the first log line
};

struct TrainResult {
  int64_t step = 0;         // steps completed in the whole run
  int64_t total_steps = 0;
  double last_loss = 0;
  bool finished = false;    // reached total_steps (not stopped early)
};

// Runs (or resumes) pretraining on `dataset` in `dir`. Stops early on SIGINT/SIGTERM or
// train.stop_after, always leaving a checkpoint of the last completed step. `tokenizer_state` is
// stored in every checkpoint (a learned vocabulary; "" for a file-based one).
TrainResult pretrain(const config::RunConfig& config, std::shared_ptr<const data::Dataset> dataset,
                     const std::string& tokenizer_state, const RunDir& dir, const Runtime& runtime);

data::LoaderOptions loader_options(const config::RunConfig& config);  // from data.*, shuffled by run.seed

// The loop itself: schedule, clipping, logging, checkpoints (with `meta`), stop signals, resume.
TrainResult run_training(const config::RunConfig& config, const TrainingJob& job, const CheckpointMeta& meta,
                         const RunDir& dir, const Runtime& runtime);

}  // namespace mmcl::train

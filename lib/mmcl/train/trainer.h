#pragma once
// The training loop: data -> model -> loss -> AdamW, with logging, checkpoints and exact resume.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/optim/adamw.h>

#include "mmcl/config/config.h"
#include "mmcl/core/precision.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/data/batch.h"
#include "mmcl/data/loader.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"
#include "mmcl/run/run.h"
#include "mmcl/train/grad_scaler.h"

namespace mmcl::dist {
class Group;
}
namespace mmcl::train {

// Forward and backward for one optimiser step over `micro_batches`, accumulating into .grad.
// With several micro-batches the features of all of them meet in one loss (open_clip's accum_freq):
// a no-grad pass caches every micro-batch's embeddings, then each micro-batch is recomputed with
// grad and the loss over all is back-propagated through it alone. The summed gradient equals that
// of one batch holding every micro-batch (the logit scale's term is counted once).
//
// With a process group of several ranks the loss sees the global batch: every rank's embeddings are
// gathered (dist::gather_rows) and each rank computes the loss over all of them, or with `local_loss`
// only its own rows against all. Gradients are then exact once averaged over ranks, as one process
// with the whole batch would compute them, except with local_loss and without gather_with_grad
// (open_clip's approximation: the other ranks' terms of this rank's rows are dropped).
// Both are 0-dim tensors on the model's device, detached: reading one waits for the device, so the
// training loop reads them only at its logging and checkpoint steps (every step on the CPU, where a
// read costs nothing).
struct StepStats {
  at::Tensor loss;
  at::Tensor logit_scale;  // the (exponentiated) scale the loss used; undefined when the loss has none
};
struct GlobalBatch {
  dist::Group* group = nullptr;  // null or one rank: the local batch is the whole batch
  bool local_loss = false;
  bool gather_with_grad = false;
};
// runtime.precision for a step: the forward pass and the loss run under autocast (amp_*), float inputs
// take the parameters' type (bf16/fp16), and with a scaler the loss is scaled before backward.
struct StepPrecision {
  Precision precision;
  c10::Device device = c10::Device("cpu");
  const GradScaler* scaler = nullptr;
};
StepStats forward_backward(models::ContrastiveModel& model, const losses::Loss& loss,
                           const std::vector<data::Batch>& micro_batches, const GlobalBatch& global = {},
                           const StepPrecision& precision = {});
// A batch's float inputs (image, video, audio) in the parameters' type for pure bf16/fp16.
data::Batch inputs_for(const data::Batch& batch, const Precision& precision);

// What the training loop trains: the module whose state is checkpointed, its optimiser, its data,
// and how one step computes gradients. pretrain and finetune each fill one in.
struct TrainingJob {
  torch::nn::Module* module = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  data::Loader* loader = nullptr;
  std::function<StepStats(const std::vector<data::Batch>&)> step;  // forward + backward of one step
  std::function<void()> after_step;                                // after the optimiser step, if set
  GradScaler* scaler = nullptr;  // amp_fp16: gradients are unscaled and checked before each step
  // At the end of each epoch, if set: may add figures (e.g. "eval/top1") to the epoch's metrics line.
  std::function<void(int64_t epoch, nlohmann::json& record)> at_epoch_end;
  std::string description;                                         // for the first log line
  // Every eval_every steps and after the last step, if set: evaluation results ("eval/..." numbers) that
  // join the metrics line of that step and make a line of eval.jsonl; train.keep_best picks among them.
  std::function<nlohmann::json()> evaluate;
  int64_t eval_every = 0;
};

struct TrainResult {
  int64_t step = 0;         // steps completed in the whole run
  int64_t total_steps = 0;
  double last_loss = 0;
  bool finished = false;    // reached total_steps (not stopped early)
  int stop_signal = 0;      // the signal that stopped the run (on any rank), 0 if none
};

// Runs (or resumes) pretraining of the resolved run's model on its dataset in `dir`. Stops early on
// SIGINT/SIGTERM or train.stop_after, always leaving a checkpoint of the last completed step. The
// run's tokenizer state (a learned vocabulary) is stored in every checkpoint.
TrainResult pretrain(const run::Run& run, const RunDir& dir, const Runtime& runtime);

// From data.* (batch size, workers, prefetch), shuffled by `seed`; this rank's shard when
// runtime.group has several ranks.
data::LoaderOptions loader_options(const config::DataConfig& data, int64_t seed, const Runtime& runtime = {});

// What the loop reads of the configuration besides the job.
struct LoopSettings {
  config::TrainConfig train;
  config::OptimConfig optim;
  io::CheckpointMeta meta;  // stored in every checkpoint: the resolved config (YAML) and tokenizer
  double bucket_mb = 25;    // dist.bucket_mb: gradient all-reduce buckets (several processes)
};

// The loop itself: schedule, clipping, logging, checkpoints, stop signals, resume (a resumed run logs
// the config keys that changed since its checkpoint). With several ranks (runtime.group): rank 0's
// parameters are broadcast at the start and after a resume (every rank loads the checkpoint),
// gradients are averaged over ranks after each backward, the ranks agree after every step on the loss
// (their mean) and on whether any of them was signalled to stop, and rank 0 alone writes metrics and
// checkpoints. After a SIGUSR1 stop under SLURM with train.requeue, rank 0 requeues the job.
// Evaluations during training (job.evaluate) run on every rank (the same data; rank 0 writes); with
// train.keep_best a better value of that metric saves checkpoints/best.pt (weights and state, no
// optimiser) and checkpoints/best.json, which a resumed run reads back.
TrainResult run_training(const TrainingJob& job, const LoopSettings& settings, const RunDir& dir,
                         const Runtime& runtime);

}  // namespace mmcl::train

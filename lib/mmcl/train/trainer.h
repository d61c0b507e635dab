#pragma once
// The training loop: data -> model -> loss -> AdamW, with logging, checkpoints and exact resume.

#include <cstdint>
#include <vector>

#include "mmcl/config/config.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/data/batch.h"
#include "mmcl/data/dataset.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"

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

}  // namespace mmcl::train

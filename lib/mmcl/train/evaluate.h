#pragma once
// Evaluation during pretraining (eval.every, eval.during; open_clip's --zeroshot-frequency and
// --val-data): zero-shot classification and retrieval on eval.data through the same code as the
// zeroshot and retrieve subcommands, and the validation loss on data.val. The results are "eval/..."
// numbers (config::evaluation_metrics names them) for the training loop's metrics line, eval.jsonl and
// train.keep_best.

#include <memory>

#include <nlohmann/json.hpp>

#include "mmcl/core/runtime.h"
#include "mmcl/data/loader.h"
#include "mmcl/losses/loss.h"
#include "mmcl/run/run.h"

namespace mmcl::train {

class EvaluationDuringTraining {
 public:
  // Opens data.val for val_loss (a ConfigError when it cannot be read). Synthetic data holds out its own
  // samples: the generator with another seed, a tenth of data.synthetic.size (at least one batch).
  EvaluationDuringTraining(const run::Run& run, losses::LossPtr loss, const Runtime& runtime);
  // Runs eval.during on the model as it is now (in eval mode; the caller puts it back in training mode).
  nlohmann::json evaluate();
  // The validation loss alone: the mean over data.val's full batches of the training loss.
  double validation_loss();

 private:
  run::Run run_;
  losses::LossPtr loss_;
  Runtime runtime_;
  std::unique_ptr<data::Loader> val_;
};

}  // namespace mmcl::train

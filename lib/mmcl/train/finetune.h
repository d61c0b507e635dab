#pragma once
// Fine-tuning: a classification head on the input tower (images, video clips or audio) of a
// resolved run's model, trained with cross-entropy on eval.train (the tower too, or frozen with
// finetune.mode linear) and evaluated on eval.data after every epoch; checkpoints, logs and resume
// as for pretraining (the same training loop). Multi-label sets (eval.multi_label, AudioSet's) train
// with binary cross-entropy per class (the mean over samples and classes, as PyTorch's
// BCEWithLogitsLoss) and report mAP, mean AUC and d-prime.

#include <memory>
#include <vector>

#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/data/dataset.h"
#include "mmcl/eval/metrics.h"
#include "mmcl/run/run.h"
#include "mmcl/train/trainer.h"

namespace mmcl::train {

// The labelled sets of a fine-tuning run, read and checked before anything is written.
struct FinetuneData {
  std::shared_ptr<const data::Dataset> train, test;  // eval.train (augmented), eval.data
  int64_t classes = 0;
  Modality modality = Modality::image;  // what the sets hold (eval.modality, or the model's input)
  bool multi_label = false;             // eval.multi_label: the label sets below, by sample index
  std::vector<std::vector<int32_t>> train_sets, test_sets;
};
// Class names that differ between the sets are a ConfigError.
FinetuneData finetune_data(const run::Run& base);

struct FinetuneResult {
  TrainResult training;
  eval::ClassificationMetrics test;      // on eval.data after the last step (rank 0 only)
  eval::MultiLabelMetrics test_multi;    // the same for multi-label sets
  std::vector<double> epoch_top1;        // test top-1 (multi-label: mAP) after each epoch
};

// Trains `base`'s model under a new head on `data` in `dir` (runtime.group: several processes).
FinetuneResult finetune(const run::Run& base, const FinetuneData& data, const RunDir& dir, const Runtime& runtime);

}  // namespace mmcl::train

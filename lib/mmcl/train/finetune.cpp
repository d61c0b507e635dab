#include "mmcl/train/finetune.h"

#include <set>

#include <ATen/ATen.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/loader.h"
#include "mmcl/dist/group.h"
#include "mmcl/eval/embed.h"
#include "mmcl/models/classifier.h"
#include "mmcl/train/optim.h"

namespace mmcl::train {

FinetuneData finetune_data(const run::Run& base) {
  const config::RunConfig& c = base.config;
  const data::Manifest train = eval::read_labelled(c.eval, c.data, c.eval.train);
  const data::Manifest test = eval::read_labelled(c.eval, c.data, c.eval.data);
  if (train.label_names != test.label_names)
    throw ConfigError(str_cat(c.eval.data, ": its class names differ from those of ", c.eval.train));
  FinetuneData out;
  out.classes = std::max(eval::class_count(train), eval::class_count(test));
  out.multi_label = c.eval.multi_label;
  out.train_sets = train.label_sets;
  out.test_sets = test.label_sets;
  out.modality = eval::eval_modality(base);
  out.train = eval::labelled_inputs(base, train, /*train=*/true);
  out.test = eval::labelled_inputs(base, test, /*train=*/false);
  return out;
}

FinetuneResult finetune(const run::Run& base, const FinetuneData& sets, const RunDir& dir, const Runtime& runtime) {
  const config::RunConfig& c = base.config;
  const Modality modality = sets.modality;
  models::Classifier model(base.model, modality, sets.classes, c.finetune.mode == FinetuneMode::linear);
  // runtime.precision as in pretrain: amp_* autocasts the forward pass (float32 weights), bf16/fp16
  // convert the model; the loss and the logits compared are float32.
  const Precision& precision = base.precision;
  place_module(*model, runtime.device, precision.param_dtype());
  GradScaler scaler(precision.scale_loss);
  const auto logits_of = [&](const data::Batch& b) {
    const AutocastGuard autocast(precision, runtime.device);
    return model->forward(to_param_dtype(b.input(modality).to(runtime.device), precision)).to(at::kFloat);
  };
  auto optimizer = make_optimizer(*model, c.optim);
  data::Loader loader(sets.train, loader_options(c.data, c.run.seed, runtime));
  // Multi-label targets: the multi-hot rows of a batch's samples.
  const auto multi_hot = [&](const std::vector<std::vector<int32_t>>& label_sets, const std::vector<int64_t>& indices) {
    at::Tensor y = at::zeros({static_cast<int64_t>(indices.size()), sets.classes}, at::kFloat);
    for (size_t r = 0; r < indices.size(); ++r)
      for (int32_t l : label_sets.at(static_cast<size_t>(indices[r])))
        if (l < sets.classes) y[static_cast<int64_t>(r)][l] = 1;
    return y;
  };

  auto evaluate = [&] {
    model->eval();
    data::LoaderOptions o = loader_options(c.data, c.run.seed);
    o.shuffle = false;
    o.drop_last = false;
    // Evaluation views (eval.views) multiply the inputs of a sample.
    o.batch_size = std::max<int64_t>(1, c.eval.batch_size / eval::eval_views(c.eval, modality));
    data::Loader test_loader(sets.test, o);
    test_loader.start_epoch(0);
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> logits, labels;
    // An unreadable input is stood in for by a later one: count every sample once.
    std::vector<int64_t> keep;
    std::set<int64_t> seen;
    int64_t row = 0;
    while (auto b = test_loader.next()) {
      logits.push_back(logits_of(*b).cpu());
      labels.push_back(sets.multi_label ? multi_hot(sets.test_sets, b->indices) : b->label);
      for (int64_t index : b->indices) {
        if (seen.insert(index).second) keep.push_back(row);
        ++row;
      }
    }
    const at::Tensor rows = at::tensor(keep, at::kLong);
    return std::make_pair(at::cat(logits).index_select(0, rows), at::cat(labels).index_select(0, rows));
  };
  // The epoch's score (top-1, or mAP) and the final metrics.
  const auto score = [&](const std::pair<at::Tensor, at::Tensor>& out) {
    return sets.multi_label ? eval::multilabel_metrics(out.first, out.second).map
                            : eval::classification_metrics(out.first, out.second).top1;
  };

  FinetuneResult result;
  TrainingJob job;
  job.module = model.ptr().get();
  job.optimizer = optimizer.get();
  job.loader = &loader;
  job.step = [&](const std::vector<data::Batch>& micro) {
    StepStats stats;
    for (const data::Batch& b : micro) {
      const at::Tensor logits = logits_of(b);
      const at::Tensor loss =
          (sets.multi_label
               ? at::binary_cross_entropy_with_logits(logits, multi_hot(sets.train_sets, b.indices).to(logits.device()))
               : at::cross_entropy_loss(logits, b.label, {}, at::Reduction::Mean, -100, c.finetune.label_smoothing)) /
          static_cast<double>(micro.size());
      scaler.scale_loss(loss).backward();
      stats.loss = stats.loss.defined() ? stats.loss + loss.detach() : loss.detach();
    }
    return stats;
  };
  job.scaler = &scaler;
  job.at_epoch_end = [&](int64_t epoch, nlohmann::json& record) {
    const double s = score(evaluate());
    const char* what = sets.multi_label ? "mAP" : "top1";
    record[str_cat("eval/", what)] = s;
    result.epoch_top1.push_back(s);
    spdlog::info("epoch {}: test {} {:.2f}%", epoch, sets.multi_label ? "mAP" : "top-1", 100 * s);
  };
  job.description = str_cat("fine-tuning (", c.finetune.mode, ") a ", sets.classes, "-class head on ", c.eval.checkpoint,
                            ", ", sets.train->size(), " training ", plural_of(modality), ", precision ", precision.name());
  result.training =
      run_training(job, {c.train, c.optim, {config::dump_config(c), ""}, c.dist.bucket_mb}, dir, runtime);
  if (runtime.group && !runtime.group->is_main()) return result;
  const auto out = evaluate();
  if (sets.multi_label) result.test_multi = eval::multilabel_metrics(out.first, out.second);
  else result.test = eval::classification_metrics(out.first, out.second);
  return result;
}

}  // namespace mmcl::train

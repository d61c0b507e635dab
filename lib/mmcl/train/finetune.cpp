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
  if (c.eval.multi_label)
    throw ConfigError("eval.multi_label: finetune trains a single-label head (cross-entropy); multi-label sets are "
                      "evaluated by linear-probe");
  if (train.label_names != test.label_names)
    throw ConfigError(str_cat(c.eval.data, ": its class names differ from those of ", c.eval.train));
  FinetuneData out;
  for (const auto* m : {&train, &test})
    for (size_t i = 0; i < m->records.size(); ++i) out.classes = std::max(out.classes, m->records.label(i) + 1);
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

  auto evaluate = [&] {
    model->eval();
    data::LoaderOptions o = loader_options(c.data, c.run.seed);
    o.shuffle = false;
    o.drop_last = false;
    // Evaluation views (eval.views) multiply the inputs of a sample.
    const int64_t views = modality == Modality::video ? c.eval.views[0] * c.eval.views[1]
                          : modality == Modality::audio ? c.eval.views[0]
                                                        : 1;
    o.batch_size = std::max<int64_t>(1, c.eval.batch_size / views);
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
      labels.push_back(b->label);
      for (int64_t index : b->indices) {
        if (seen.insert(index).second) keep.push_back(row);
        ++row;
      }
    }
    const at::Tensor rows = at::tensor(keep, at::kLong);
    return eval::classification_metrics(at::cat(logits).index_select(0, rows), at::cat(labels).index_select(0, rows));
  };

  FinetuneResult result;
  TrainingJob job;
  job.module = model.ptr().get();
  job.optimizer = optimizer.get();
  job.loader = &loader;
  job.step = [&](const std::vector<data::Batch>& micro) {
    StepStats stats;
    for (const data::Batch& b : micro) {
      const at::Tensor loss = at::cross_entropy_loss(logits_of(b), b.label, {}, at::Reduction::Mean, -100,
                                                     c.finetune.label_smoothing) /
                              static_cast<double>(micro.size());
      scaler.scale_loss(loss).backward();
      stats.loss = stats.loss.defined() ? stats.loss + loss.detach() : loss.detach();
    }
    return stats;
  };
  job.scaler = &scaler;
  job.at_epoch_end = [&](int64_t epoch, nlohmann::json& record) {
    const auto m = evaluate();
    record["eval/top1"] = m.top1;
    result.epoch_top1.push_back(m.top1);
    spdlog::info("epoch {}: test top-1 {:.2f}%", epoch, 100 * m.top1);
  };
  job.description = str_cat("fine-tuning (", c.finetune.mode, ") a ", sets.classes, "-class head on ", c.eval.checkpoint,
                            ", ", sets.train->size(), " training ", plural_of(modality), ", precision ", precision.name());
  result.training =
      run_training(job, {c.train, c.optim, {config::dump_config(c), ""}, c.dist.bucket_mb}, dir, runtime);
  if (runtime.group && !runtime.group->is_main()) return result;
  result.test = evaluate();
  return result;
}

}  // namespace mmcl::train

// mmcl finetune: a classification head on the input tower (images, or video clips) of a checkpoint, trained with
// cross-entropy on eval.train (the tower too, or frozen with finetune.mode: linear), evaluated on
// eval.data after every epoch; checkpoints, logs and resume as for pretrain.

#include <cstdio>
#include <iostream>
#include <set>

#include <ATen/ATen.h>

#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/core/signals.h"
#include "mmcl/data/dataset.h"
#include "mmcl/dist/group.h"
#include "mmcl/dist/launch.h"
#include "mmcl/eval/evaluate.h"
#include "mmcl/eval/metrics.h"
#include "mmcl/models/classifier.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"

namespace mmcl::cli {
namespace {

class Finetune : public RunCommand {
 public:
  std::string name() const override { return "finetune"; }
  std::string summary() const override { return "Fine-tune a classifier on the image (or video) tower of a checkpoint"; }

 protected:
  std::vector<std::string> required_keys() const override { return {"eval.checkpoint", "eval.train", "eval.data"}; }

  int execute(const config::RunConfig& c) override {
    const c10::Device device = select_device(c.runtime.device);
    const auto [env, dir] = plan_training(c);
    seed_everything(static_cast<uint64_t>(c.run.seed));
    eval::EvalModel base = eval::load_for_eval(c.eval.checkpoint, c, device);

    const data::Manifest train = eval::read_labelled(c, c.eval.train);
    const data::Manifest test = eval::read_labelled(c, c.eval.data);
    if (train.label_names != test.label_names)
      throw ConfigError(str_cat(c.eval.data, ": its class names differ from those of ", c.eval.train));
    int64_t classes = 0;
    for (const auto* m : {&train, &test})
      for (const auto& r : m->records) classes = std::max(classes, r.label + 1);
    const auto train_set = eval::labelled_inputs(c, base, train, /*train=*/true);
    const auto test_set = eval::labelled_inputs(c, base, test, /*train=*/false);

    // Every check has passed on this rank: meet the others (several processes), then rank 0 writes.
    const Runtime runtime = dist::setup_training_runtime(c, env);
    const bool main = runtime.group->is_main();
    const std::string modality = eval::eval_modality(c, *base.model);
    models::Classifier model(base.model, modality, classes, c.finetune.mode == "linear");
    // runtime.precision as in pretrain: amp_* autocasts the forward pass (float32 weights), bf16/fp16
    // convert the model; the loss and the logits compared are float32.
    const train::Precision& precision = base.precision;
    train::place_module(*model, runtime.device, precision.param_dtype());
    train::GradScaler scaler(precision.scale_loss);
    const auto logits_of = [&](const data::Batch& b) {
      const at::Tensor& x = modality == "video" ? b.video : modality == "audio" ? b.audio : b.image;
      const train::AutocastGuard autocast(precision, runtime.device);
      return model->forward(train::to_param_dtype(x.to(runtime.device), precision)).to(at::kFloat);
    };
    auto optimizer = train::make_optimizer(*model, c.optim);
    data::Loader loader(train_set, train::loader_options(c, runtime));

    auto evaluate = [&] {
      model->eval();
      data::LoaderOptions o = train::loader_options(c);
      o.shuffle = false;
      o.drop_last = false;
      o.batch_size = c.eval.batch_size;
      data::Loader test_loader(test_set, o);
      test_loader.start_epoch(0);
      torch::NoGradGuard no_grad;
      std::vector<at::Tensor> logits, labels;
      // An unreadable image is stood in for by a later one: count every sample once.
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

    if (main) open_run_dir(dir, c);
    spdlog::info("{} | run directory {} | {}", version_text(), dir.root.string(), dist::describe_runtime(runtime));
    std::vector<double> history;
    train::TrainingJob job;
    job.module = model.ptr().get();
    job.optimizer = optimizer.get();
    job.loader = &loader;
    job.step = [&](const std::vector<data::Batch>& micro) {
      train::StepStats stats;
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
      history.push_back(m.top1);
      spdlog::info("epoch {}: test top-1 {:.2f}%", epoch, 100 * m.top1);
    };
    job.description = str_cat("fine-tuning (", c.finetune.mode, ") a ", classes, "-class head on ",
                              c.eval.checkpoint, ", ", train_set->size(), " training ",
                              modality == "audio" ? "recordings" : modality + "s", ", precision ", precision.name);
    const train::TrainResult result =
        train::run_training(c, job, {config::dump_config(c), ""}, dir, runtime);

    const int code = result.stop_signal != 0 ? kExitRuntime : kExitOk;
    if (!main) return code;
    const auto m = evaluate();
    nlohmann::json results = {{"subcommand", "finetune"}, {"checkpoint", c.eval.checkpoint},
                              {"train", c.eval.train}, {"data", c.eval.data}, {"mode", c.finetune.mode},
                              {"steps", result.step}, {"top1", m.top1}, {"top5", m.top5},
                              {"samples", m.samples}, {"epoch_top1", history}, {"per_class", m.per_class},
                              {"confusion", m.confusion}};
    write_file_atomic(dir.results_file(), results.dump(2) + "\n");
    char buf[300];
    std::snprintf(buf, sizeof buf, "fine-tuned (%s) for %lld steps: test top-1 %.2f%%  top-5 %.2f%% on %lld %s\n",
                  c.finetune.mode.c_str(), static_cast<long long>(result.step), 100 * m.top1, 100 * m.top5,
                  static_cast<long long>(m.samples), modality == "audio" ? "recordings" : (modality + "s").c_str());
    write_file_atomic(dir.root / "summary.txt", buf);
    std::cout << buf << std::flush;
    log::remove_files();
    return code;
  }
};

}  // namespace

std::unique_ptr<Command> make_finetune() { return std::make_unique<Finetune>(); }

}  // namespace mmcl::cli

// mmcl finetune: a classification head on the input tower of a checkpoint (train::finetune); this file
// writes results.json and summary.txt.

#include <iostream>

#include "mmcl/core/json_text.h"
#include "mmcl/core/format.h"
#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/dist/group.h"
#include "mmcl/dist/launch.h"
#include "mmcl/run/run.h"
#include "mmcl/train/finetune.h"

namespace mmcl::cli {
namespace {

class Finetune : public RunCommand {
 public:
  std::string name() const override { return "finetune"; }
  std::string summary() const override { return "Fine-tune a classifier on the image (or video) tower of a checkpoint"; }

 protected:
  bool trains() const override { return true; }
  int execute(const config::RunConfig& c) override {
    const auto [env, dir] = plan_training(c);
    run::Request request;
    request.model = run::ModelFrom::checkpoint;
    request.checkpoint = c.eval.checkpoint;
    request.process = &env;
    const run::Run base = run::resolve(c, request);
    const train::FinetuneData sets = train::finetune_data(base);

    // Every check has passed on this rank: meet the others (several processes), then rank 0 writes.
    const Runtime runtime = dist::setup_training_runtime(base.device, c.runtime.threads, c.dist, env);
    const bool main = runtime.group->is_main();
    RunLock lock;
    if (main) lock = open_run_dir(dir, config::dump_config(c));
    spdlog::info("{} | run directory {} | {}", version_text(), dir.root.string(), dist::describe_runtime(runtime));
    const train::FinetuneResult result = train::finetune(base, sets, dir, runtime);

    const int code = result.training.stop_signal != 0 ? kExitRuntime : kExitOk;
    if (!main) return code;
    nlohmann::json results = {{"subcommand", "finetune"}, {"checkpoint", c.eval.checkpoint},
                              {"train", c.eval.train},     {"data", c.eval.data},
                              {"mode", name_of(c.finetune.mode)}, {"steps", result.training.step}};
    std::string scores;
    int64_t samples = 0;
    if (sets.multi_label) {
      const eval::MultiLabelMetrics& m = result.test_multi;
      samples = m.samples;
      results.update({{"mAP", m.map}, {"mean_auc", m.mean_auc}, {"d_prime", m.d_prime}, {"epoch_mAP", result.epoch_top1},
                      {"ap", m.ap}, {"auc", m.auc}});
      scores = format_line("test mAP %.2f%%  AUC %.4f  d-prime %.3f", 100 * m.map, m.mean_auc, m.d_prime);
    } else {
      const eval::ClassificationMetrics& m = result.test;
      samples = m.samples;
      results.update({{"top1", m.top1}, {"top5", m.top5}, {"epoch_top1", result.epoch_top1},
                      {"per_class", m.per_class}, {"confusion", m.confusion}});
      scores = format_line("test top-1 %.2f%%  top-5 %.2f%%", 100 * m.top1, 100 * m.top5);
    }
    results["samples"] = samples;
    write_file_atomic(dir.results_file(), json_text(results, 2) + "\n");
    const std::string summary = format_line(
        "fine-tuned (%s) for %lld steps: %s on %lld %s\n", name_of(c.finetune.mode).c_str(),
        static_cast<long long>(result.training.step), scores.c_str(), static_cast<long long>(samples),
        plural_of(sets.modality).c_str());
    write_file_atomic(dir.root / "summary.txt", summary);
    std::cout << summary << std::flush;
    log::remove_files();
    return code;
  }
};

}  // namespace

std::unique_ptr<Command> make_finetune() { return std::make_unique<Finetune>(); }

}  // namespace mmcl::cli

// mmcl pretrain: contrastive pretraining into a run directory (train::pretrain).

#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/dist/group.h"
#include "mmcl/dist/launch.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/run/run.h"
#include "mmcl/train/progress.h"
#include "mmcl/train/trainer.h"

namespace mmcl::cli {
namespace {

class Pretrain : public RunCommand {
 public:
  std::string name() const override { return "pretrain"; }
  std::string summary() const override { return "Contrastive pretraining (CLIP) into a run directory"; }

 protected:
  bool trains() const override { return true; }
  int execute(const config::RunConfig& config) override {
    // Everything that can refuse the run (launcher environment, run directory, device, tokenizer,
    // model, manifests) is checked on every rank before anything is written; rank 0 writes only after
    // the rendezvous, which waits for every rank's checks.
    const auto [env, dir] = plan_training(config);
    run::Request request;
    request.dataset = true;
    request.process = &env;
    const run::Run run = run::resolve(config, request);
    const Runtime runtime = dist::setup_training_runtime(run.device, config.runtime.threads, config.dist, env);
    RunLock lock;
    if (runtime.group->is_main()) {
      lock = open_run_dir(dir, config::dump_config(run.config));
      if (!run.tokenizer_state.empty()) write_file_atomic(dir.root / "tokenizer.json", run.tokenizer_state);
    }
    spdlog::info("{} | run directory {} | {}", version_text(), dir.root.string(), dist::describe_runtime(runtime));
    const train::TrainResult result = train::pretrain(run, dir, runtime);
    spdlog::info("done: step {}/{}, last loss {:.4f}, run directory {}", result.step, result.total_steps,
                 result.last_loss, dir.root.string());
    if (runtime.group->is_main() && result.finished) {
      // The trained weights alone (1x the model's size; checkpoints also hold the optimiser state):
      // model.pretrained takes the file, with the run's config.yaml for the model keys.
      const std::filesystem::path final_weights = dir.root / "final.safetensors";
      io::save_safetensors(final_weights, models::named_weights(*run.model),
                           {{"format", "pt"}, {"mmcl_model", run.model_config.name}, {"mmcl_step", std::to_string(result.step)}});
      spdlog::info("weights {}", final_weights.string());
    }
    if (runtime.group->is_main()) {
      std::string checkpoint;
      try {
        checkpoint = io::resolve_checkpoint(dir.root.string());
      } catch (const Error&) {
        // none written (a run stopped before its first step)
      }
      spdlog::info("{}", train::write_run_summary(dir.root, checkpoint));
    }
    log::remove_files();
    return result.stop_signal != 0 ? kExitRuntime : kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> make_pretrain() { return std::make_unique<Pretrain>(); }

}  // namespace mmcl::cli

// mmcl pretrain: contrastive pretraining into a run directory.

#include "mmcl/cli/run_command.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/data/dataset.h"
#include "mmcl/text/factory.h"
#include "mmcl/core/log.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/core/runtime.h"
#include "mmcl/core/signals.h"
#include "mmcl/train/trainer.h"

namespace mmcl::cli {
namespace {

class Pretrain : public RunCommand {
 public:
  std::string name() const override { return "pretrain"; }
  std::string summary() const override { return "Contrastive pretraining (CLIP) into a run directory"; }

 protected:
  int execute(const config::RunConfig& loaded) override {
    // Everything that can refuse the run (device, run directory, tokenizer, manifests) is checked
    // before anything is written.
    config::RunConfig config = loaded;
    select_device(config.runtime.device);
    const RunDir dir = plan_run_dir(run_dir_path(config, options_.run_dir), options_.resume);
    const text::TrainingTokenizer tokenizer = text::training_tokenizer(config);
    data::InputSpec spec{config.model.vision.image_size, config.model.text.context_length,
                         config.model.text.vocab_size, tokenizer.tokenizer};
    auto dataset = data::make_dataset(config.data, spec, static_cast<uint64_t>(config.run.seed));

    open_run_dir(dir, config);
    if (!tokenizer.state.empty()) write_file_atomic(dir.root / "tokenizer.json", tokenizer.state);
    spdlog::info("{} | run directory {}", version_text(), dir.root.string());
    const Runtime runtime = setup_runtime(config.runtime);
    const train::TrainResult result = train::pretrain(config, dataset, tokenizer.state, dir, runtime);
    spdlog::info("done: step {}/{}, last loss {:.4f}, run directory {}", result.step, result.total_steps,
                 result.last_loss, dir.root.string());
    log::remove_files();
    return stop_requested() ? kExitRuntime : kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> make_pretrain() { return std::make_unique<Pretrain>(); }

}  // namespace mmcl::cli

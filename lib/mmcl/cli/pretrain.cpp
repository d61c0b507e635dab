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
#include "mmcl/dist/group.h"
#include "mmcl/dist/launch.h"
#include "mmcl/train/trainer.h"

namespace mmcl::cli {
namespace {

class Pretrain : public RunCommand {
 public:
  std::string name() const override { return "pretrain"; }
  std::string summary() const override { return "Contrastive pretraining (CLIP) into a run directory"; }

 protected:
  int execute(const config::RunConfig& loaded) override {
    // Everything that can refuse the run (launcher environment, device, run directory, tokenizer,
    // manifests) is checked on every rank before anything is written; rank 0 writes only after the
    // rendezvous, which waits for every rank's checks.
    config::RunConfig config = loaded;
    train::resolve_precision(config.runtime.precision, select_device(config.runtime.device));
    const auto [env, dir] = plan_training(config);
    const text::TrainingTokenizer tokenizer = text::training_tokenizer(config);
    data::InputSpec spec{config.model.vision.image_size, config.model.text.context_length,
                         config.model.text.vocab_size, tokenizer.tokenizer};
    spec.video_frames = config.model.video.frames;
    spec.video_size = config.model.video.size;
    if (config.model.name == "cvrl") spec.video_views = 2;  // two clips of each video
    if (config.model.name == "vatt") {                       // the soundtrack of each clip
      spec.audio_samples = config.model.vatt.audio_samples;
      spec.audio_rate = config.model.vatt.audio_rate;
    }
    auto dataset = data::make_dataset(config.data, spec, static_cast<uint64_t>(config.run.seed));

    const Runtime runtime = dist::setup_training_runtime(config, env);
    if (runtime.group->is_main()) {
      open_run_dir(dir, config);
      if (!tokenizer.state.empty()) write_file_atomic(dir.root / "tokenizer.json", tokenizer.state);
    }
    spdlog::info("{} | run directory {} | {}", version_text(), dir.root.string(), dist::describe_runtime(runtime));
    const train::TrainResult result = train::pretrain(config, dataset, tokenizer.state, dir, runtime);
    spdlog::info("done: step {}/{}, last loss {:.4f}, run directory {}", result.step, result.total_steps,
                 result.last_loss, dir.root.string());
    log::remove_files();
    return result.stop_signal != 0 ? kExitRuntime : kExitOk;
  }
};

}  // namespace

std::unique_ptr<Command> make_pretrain() { return std::make_unique<Pretrain>(); }

}  // namespace mmcl::cli

#pragma once
// The shared shape of the five run subcommands: --config FILE, --set key=value..., --run-dir DIR,
// --resume and --dump-config. Subclasses implement execute() on the resolved config.

#include "mmcl/cli/command.h"
#include "mmcl/config/config.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/dist/env.h"

namespace mmcl::cli {

struct RunOptions {
  std::string config;
  std::vector<std::string> sets;
  std::string run_dir;
  bool resume = false;     // --resume given (with or without a directory)
  std::string resume_dir;  // --resume RUN_DIR
  bool dump_config = false;
};

class RunCommand : public Command {
 public:
  void add_options(CLI::App& app) override;
  int run() override;

 protected:
  // The config as loaded and checked for this subcommand (config/load.h).
  virtual int execute(const config::RunConfig& config) = 0;
  // Whether the subcommand trains into a run directory it can continue (--resume).
  virtual bool trains() const { return false; }
  // For the training subcommands, on every rank before anything is written: which process this is
  // (launcher environment) and the run directory (--resume, or implied when SLURM restarts a
  // requeued job). Several processes need a run directory named in advance.
  struct TrainingPlan {
    dist::Env env;
    RunDir dir;
  };
  TrainingPlan plan_training(const config::RunConfig& config) const;
  RunOptions options_;

 private:
  // --resume RUN_DIR without --config: the config the run stored, with --set applied.
  config::RunConfig stored_config() const;
  CLI::Option* resume_ = nullptr;
};

std::unique_ptr<Command> make_pretrain();
std::unique_ptr<Command> make_list();
std::unique_ptr<Command> make_zeroshot();
std::unique_ptr<Command> make_classify();
std::unique_ptr<Command> make_completion();
std::unique_ptr<Command> make_retrieve();
std::unique_ptr<Command> make_tokenize();
std::unique_ptr<Command> make_export();
std::unique_ptr<Command> make_embed();
std::unique_ptr<Command> make_search();
std::unique_ptr<Command> make_linear_probe();
std::unique_ptr<Command> make_finetune();
std::unique_ptr<Command> make_inspect();
std::unique_ptr<Command> make_bench();
std::unique_ptr<Command> make_plot();
std::unique_ptr<Command> make_reproduce();

}  // namespace mmcl::cli

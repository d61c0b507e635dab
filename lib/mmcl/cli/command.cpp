#include "mmcl/cli/command.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <c10/util/Exception.h>
#include <yaml-cpp/exceptions.h>

#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/runtime.h"
#include "mmcl/core/suggest.h"
#include "mmcl/dist/slurm.h"

namespace mmcl::cli {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::vector<std::unique_ptr<Command>> make_commands() {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(make_pretrain());
  commands.push_back(make_finetune());
  commands.push_back(make_zeroshot());
  commands.push_back(make_classify());
  commands.push_back(make_linear_probe());
  commands.push_back(make_retrieve());
  commands.push_back(make_embed());
  commands.push_back(make_search());
  commands.push_back(make_inspect());
  commands.push_back(make_plot());
  commands.push_back(make_reproduce());
  commands.push_back(make_bench());
  commands.push_back(make_export());
  commands.push_back(make_tokenize());
  commands.push_back(make_list());
  commands.push_back(make_completion());
  return commands;
}

std::string version_text() { return str_cat("mmcl ", MMCL_VERSION, " (LibTorch ", torch_version(), ")"); }

int guarded(const std::function<int()>& fn) {
  log::init_console();
  try {
    return fn();
  } catch (const ConfigError& e) {
    std::cerr << e.what() << std::endl;
    return e.exit_code();
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    if (!e.where().empty()) spdlog::debug("raised by the check at {}", e.where());
    return e.exit_code();
  } catch (const c10::Error& e) {
    spdlog::error("{}", first_line(e.what_without_backtrace()));
    return kExitRuntime;
  } catch (const YAML::Exception& e) {
    spdlog::error("YAML: {}", e.what());
    return kExitRuntime;
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory (the batch, the model or the number of workers is more than this machine holds)");
    return kExitRuntime;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitRuntime;
  }
}

int unknown_subcommand_exit(int argc, char** argv, const std::vector<std::unique_ptr<Command>>& commands) {
  if (argc < 2 || argv[1][0] == '-') return -1;
  std::vector<std::string> names;
  for (const auto& c : commands) names.push_back(c->name());
  const std::string given = argv[1];
  if (std::find(names.begin(), names.end(), given) != names.end()) return -1;
  const std::string best = closest(given, names, 3);
  std::cerr << "unknown subcommand '" << given << "'" << (best.empty() ? "" : "; did you mean '" + best + "'?")
            << "\nsubcommands: " << join(names, ", ") << " (mmcl --help)\n";
  return kExitUsage;
}

int parse_error_exit(const CLI::App& app, const CLI::ParseError& error) {
  const int code = app.exit(error);
  return code == 0 ? kExitOk : kExitUsage;
}

void RunCommand::add_options(CLI::App& app) {
  CLI::Option* config = app.add_option("-c,--config", options_.config, "Run configuration (YAML)")->type_name("FILE");
  if (!trains()) config->required();
  app.add_option("--set", options_.sets, "Override a key: --set optim.lr=1e-4 (repeatable; wins over the file)")
      ->type_name("KEY=VALUE");
  app.add_option("--run-dir", options_.run_dir, "Run directory (default: <run.output_dir>/<run.name>)")
      ->type_name("DIR");
  // Only what trains has a run to continue: evaluations write a new directory every time.
  if (trains())
    resume_ = app.add_option("--resume", options_.resume_dir,
                             "Continue a run from its latest checkpoint: the run directory of --config, or RUN_DIR "
                             "(whose stored config is used when --config is not given; --set still overrides)")
                  ->expected(0, 1)
                  ->type_name("[RUN_DIR]");
  app.add_flag("--dump-config", options_.dump_config, "Print the resolved configuration as YAML (the sections the chosen model and data use) and exit");
  app.footer(help_footer(app.get_name()));
}

std::string help_footer(const std::string& subcommand) {
  if (subcommand == "pretrain")
    return "The config names the training data (data.type, data.train) and, for CLIP's BPE, tokenizer.vocab.\n"
           "Example: mmcl pretrain --config fashion-mnist-clip   (a built-in run config: mmcl list)\n"
           "         mmcl pretrain --config run.yaml --set optim.lr=1e-3 --set run.name=lr1e-3";
  std::vector<std::string> keys;
  try {
    keys = config::required_files(subcommand);
  } catch (const Error&) {
    return "";
  }
  if (keys.empty()) return "";
  std::string needs, example = "mmcl " + subcommand + " --config run.yaml";
  for (const std::string& key : keys) {
    needs += (needs.empty() ? "" : ", ") + key + (key == "eval.checkpoint" ? " (or model.pretrained)" : "");
    const std::string value = key == "eval.checkpoint" ? "runs/NAME" : key == "eval.train" ? "train.csv" : "test.csv";
    example += " --set " + key + "=" + value;
  }
  if (subcommand == "search")
    example += " --index runs/emb/embeddings.safetensors --text \"a red square\"\n         mmcl search --config "
               "run.yaml --set eval.checkpoint=runs/NAME --folder photos/ --image query.jpg --top 5 --json";
  if (subcommand == "classify") example += " --classes cat,dog photo.jpg";
  return "Needs in the config (or with --set KEY=VALUE): " + needs + ".\nExample: " + example +
         "\n(eval.checkpoint: a checkpoint file or a run directory, its latest checkpoint)";
}

config::RunConfig RunCommand::stored_config() const {
  // The config the run stored; train.stop_after belongs to the invocation that set it, so it starts at 0
  // again unless --set gives it.
  const std::filesystem::path file = std::filesystem::path(options_.resume_dir) / "config.yaml";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ConfigError(str_cat("--resume ", options_.resume_dir, ": no config.yaml there (not a run directory)"));
  std::vector<std::string> sets = {"train.stop_after=0"};
  sets.insert(sets.end(), options_.sets.begin(), options_.sets.end());
  spdlog::info("config from {}", file.string());
  return config::load_resolved_config(read_file(file), file.string(), sets);
}

RunCommand::TrainingPlan RunCommand::plan_training(const config::RunConfig& config) const {
  const dist::Env env = dist::resolve_env(config.dist);
  log::set_rank(env.rank, env.world_size);
  if (env.distributed() && config.run.name.empty() && options_.run_dir.empty())
    throw ConfigError(str_cat("run.name: empty, which names the run directory after the time it starts; the ",
                              env.world_size, " processes of a distributed run need one name: set run.name or --run-dir"));
  return {env, plan_run_dir(run_dir_path(config.run.output_dir, config.run.name, options_.run_dir),
                            options_.resume || dist::slurm_restarted())};
}

int RunCommand::run() {
  options_.resume = resume_ && resume_->count() > 0;
  if (!options_.resume_dir.empty()) {
    if (!options_.run_dir.empty() && options_.run_dir != options_.resume_dir)
      throw ConfigError(str_cat("--resume ", options_.resume_dir, " and --run-dir ", options_.run_dir, " name two directories"));
    options_.run_dir = options_.resume_dir;
  }
  if (options_.config.empty() && options_.resume_dir.empty())
    throw ConfigError(str_cat("mmcl ", name(), ": --config FILE is required (or --resume RUN_DIR to continue a run)"));
  const config::RunConfig config = options_.config.empty() ? stored_config() : config::load_config(options_.config, options_.sets, name());
  if (options_.dump_config) {
    std::cout << config::dump_config_for_model(config);
    return kExitOk;
  }
  return execute(config);
}

}  // namespace mmcl::cli

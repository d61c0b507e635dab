#include "mmcl/cli/eval_command.h"

#include <filesystem>
#include <iostream>

#include "mmcl/config/load.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/json_text.h"
#include "mmcl/core/log.h"
#include "mmcl/core/run_dir.h"
#include "mmcl/io/tensorboard.h"

namespace mmcl::cli {

int EvalCommand::execute(const config::RunConfig& config) {
  const RunDir dir = plan_eval_dir(config.run.output_dir, config.run.name, name(), options_.run_dir);
  run::Request request;
  request.model = run::ModelFrom::checkpoint;
  request.checkpoint = config.eval.checkpoint;
  const run::Run run = run::resolve(config, request);
  (void)setup_runtime(run.device, config.runtime.threads);
  const EvalOutput out = evaluate(run);
  const RunLock lock = open_run_dir(dir, config::dump_config(config), /*training=*/false);
  nlohmann::json results = out.results;
  results["subcommand"] = name();
  results["checkpoint"] = config.eval.checkpoint.empty() ? config.model.pretrained : config.eval.checkpoint;
  results["data"] = config.eval.data;
  write_file_atomic(dir.results_file(), json_text(results, 2) + "\n");
  write_file_atomic(dir.root / "summary.txt", out.summary);
  if (!out.tensors_file.empty()) {
    io::save_safetensors(dir.root / out.tensors_file, out.tensors, out.tensors_metadata);
    spdlog::info("embeddings in {}", (dir.root / out.tensors_file).string());
  }
  for (const auto& [relative, bytes] : out.files) {
    const std::filesystem::path path = dir.root / relative;
    std::filesystem::create_directories(path.parent_path());
    write_file_atomic(path, bytes);
  }
  // TensorBoard: the results' numbers as scalars at the checkpoint's step (eval/<subcommand>/<name>), and
  // the PNG files as images.
  {
    io::EventWriter events(dir.root / "tb");
    for (const auto& [key, value] : out.results.items())
      if (value.is_number()) events.scalar(str_cat("eval/", name(), "/", key), value.get<double>(), run.checkpoint_step);
    for (const auto& [relative, bytes] : out.files)
      if (std::filesystem::path(relative).extension() == ".png")
        events.png(std::filesystem::path(relative).replace_extension().string(), bytes, run.checkpoint_step);
  }
  std::cout << out.summary << std::flush;
  spdlog::info("results in {}", dir.results_file().string());
  log::remove_files();
  return kExitOk;
}

}  // namespace mmcl::cli

#pragma once
// The shape of the evaluation subcommands: load eval.checkpoint, evaluate, and write
// <dir>/results.json, <dir>/summary.txt, <dir>/config.yaml and <dir>/tb/ (the results' numbers and the
// PNG files as TensorBoard scalars and images) into a directory of their own
// (plan_eval_dir: <run.output_dir>/<run.name>, or <it>/eval/<subcommand>-<time> when that run exists).
// Nothing is written when the config, the checkpoint or the evaluation data cannot be used.

#include <nlohmann/json.hpp>

#include "mmcl/core/format.h"
#include "mmcl/cli/run_command.h"
#include "mmcl/core/runtime.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/run/run.h"

namespace mmcl::cli {

struct EvalOutput {
  nlohmann::json results;
  std::string summary;  // human-readable, also printed
  // Tensors to keep next to the results (<run>/<tensors_file>, safetensors), when tensors_file is set.
  std::string tensors_file;
  io::NamedTensors tensors;
  std::map<std::string, std::string> tensors_metadata;
  // Further files (path relative to the run directory -> bytes), written atomically after the results.
  std::vector<std::pair<std::string, std::string>> files;
};

class EvalCommand : public RunCommand {
 protected:
  // The model of eval.checkpoint (or model.pretrained) with its tokenizer, on the run's device.
  virtual EvalOutput evaluate(const run::Run& run) = 0;
  int execute(const config::RunConfig& config) override;
};

}  // namespace mmcl::cli

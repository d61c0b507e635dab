#pragma once
// Resolving a run configuration. Precedence, lowest first:
//   built-in defaults < model preset (model.preset) < the run YAML < --set key=value
// Any problem is a ConfigError with one line: "<file>:<line>: <key>: <what is wrong>".

#include <string>
#include <vector>

#include "mmcl/config/config.h"

namespace mmcl::config {

// Loads the YAML file at `path`, then applies `sets` ("a.b=value", value parsed as YAML), and checks
// what `subcommand` needs of it (its entry in the table of load.cpp: pretrain needs its training
// data, zeroshot eval.data and a checkpoint or pretrained weights, ...). Every file path, in the file,
// in a preset or given by --set, is relative to the working directory (never to the config's folder).
RunConfig load_config(const std::string& path, const std::vector<std::string>& sets = {},
                      const std::string& subcommand = "");
// The config keys naming files a subcommand needs beyond every run's (eval.checkpoint, eval.data ...).
const std::vector<std::string>& required_files(const std::string& subcommand);
// The same from YAML text; `source` names it in messages (e.g. a checkpoint's path).
RunConfig load_config_text(const std::string& yaml, const std::string& source,
                           const std::vector<std::string>& sets = {});
// A configuration written by dump_config (run directories, checkpoints): every key is present, so
// model.preset is kept as a record and not applied again (its file may no longer be at hand).
RunConfig load_resolved_config(const std::string& yaml, const std::string& source,
                               const std::vector<std::string>& sets = {});

// The resolved configuration as YAML; load_config_text(dump_config(c), ...) gives back c.
std::string dump_config(const RunConfig& config);

// The same with only the sections the chosen model and data source use (mmcl <subcommand> --dump-config):
// no model.* sections the model is not built from, no data.* sections of other sources or inputs, no
// tokenizer for a model without text. Loading it back gives the same run.
std::string dump_config_for_model(const RunConfig& config);
// The metrics eval.during produces during pretraining ("eval/zeroshot/top1", "eval/val_loss", ...), the
// names train.keep_best may take.
std::vector<std::string> evaluation_metrics(const RunConfig& config);
// train.keep_best: whether a smaller value of `metric` is better (losses, ranks).
bool lower_is_better(const std::string& metric);

// "key: old -> new" for every key whose value differs.
std::vector<std::string> config_differences(const RunConfig& before, const RunConfig& after);

}  // namespace mmcl::config

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
// data, zeroshot eval.data and a checkpoint or pretrained weights, ...). File paths are relative to
// the working directory.
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

// "key: old -> new" for every key whose value differs.
std::vector<std::string> config_differences(const RunConfig& before, const RunConfig& after);

}  // namespace mmcl::config

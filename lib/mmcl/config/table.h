#pragma once
// A benchmark table as a file (tables/*.yaml), read by `mmcl reproduce`: the runs (a base run config,
// --set overrides per row, seeds), the evaluations of each run's checkpoint, the columns taken from their
// results, the expected values with tolerances and the published ones (shown, never compared), and a
// smoke size. Every mistake is a ConfigError "<file>:<line>: <key>: <what is wrong>" (docs/REPRODUCE.md).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mmcl::config {

struct TableRow {
  std::string name;               // [A-Za-z0-9._-]+: names the run's folder
  std::vector<std::string> sets;  // --set KEY=VALUE for this row's runs and evaluations
};

struct TableEvaluation {
  std::string name;               // what columns call it: "zeroshot" in "zeroshot.top1"
  std::string subcommand;         // zeroshot, retrieve, linear-probe, finetune or inspect
  std::vector<std::string> sets;  // --set for this evaluation only
};

struct TableColumn {
  std::string id;     // what expected/published name it by
  std::string title;  // the header
  // Where the number comes from: "<evaluation>.<field>[.<field>...]" in that evaluation's results.json,
  // or "train.<field>" in the training run's summary.json.
  std::string value;
  double scale = 1;   // shown and compared as value x scale (100 for percentages)
  int digits = 1;     // decimals shown
};

struct Expected {
  double value = 0;
  double tolerance = 0;  // the mean over seeds must lie within value +- tolerance
};

struct TableSpec {
  std::string path;   // the spec file
  std::string title;
  std::string config;  // base run config (a file, relative to the working directory, or a built-in name)
  std::vector<std::string> sets;  // for every run
  std::vector<int64_t> seeds;     // run.seed of each row's runs
  std::vector<TableRow> rows;
  std::vector<TableEvaluation> evaluations;
  std::vector<TableColumn> columns;
  std::map<std::string, std::map<std::string, Expected>> expected;  // row -> column id
  std::map<std::string, std::map<std::string, double>> published;   // row -> column id (shown beside)
  std::string published_source;   // where the published values come from
  bool smoke = false;             // the smoke: section was applied
};

// Reads and checks `path`. With `smoke`, the file's smoke: section (seeds, set, expected) replaces the
// full size's seeds and expected values and adds its settings after the full ones; a spec without one
// is then an error. `validate_runs` also loads every row's run config (the base config with its --set
// and each evaluation's), so that a wrong key or a missing file is named before anything runs.
TableSpec load_table_spec(const std::string& path, bool smoke, bool validate_runs = true);

}  // namespace mmcl::config

#pragma once
// mmcl reproduce: a table spec (config/table.h) run and compared. Each (row, seed) is a job: its
// pretraining run, then its evaluations, each a child process of the mmcl binary (the same code as
// `mmcl pretrain` and the evaluation subcommands; one failure loses no other job's results). What is
// finished is reused (a run's final.safetensors, an evaluation's results.json) and an unfinished run is
// resumed, so a killed reproduction continues where it stopped. The table is the mean +- standard
// deviation over seeds of each column, written as Markdown, CSV and JSON and compared with the spec's
// expected values (docs/REPRODUCE.md).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmcl/config/table.h"

namespace mmcl::reproduce {

struct Options {
  std::string mmcl;            // the binary the jobs run (this one)
  std::filesystem::path out;   // runs/, evals/, logs/ and the table files
  int64_t jobs = 1;            // jobs at once
  std::string only;            // one row ("" : every row)
  int64_t task = -1;           // one job by index (a SLURM array task); -1: all
};

// The default output folder: reproduce/<spec file stem>, with -smoke for the smoke size.
std::filesystem::path default_out(const config::TableSpec& spec);

struct Job {
  std::string row;
  int64_t seed = 0;
  std::string name() const { return row + "-s" + std::to_string(seed); }
};
// Rows x seeds in spec order (row-major); `only` keeps one row (a ConfigError naming the rows when it
// names none).
std::vector<Job> jobs_of(const config::TableSpec& spec, const std::string& only);

// Where a job's files go.
std::filesystem::path run_dir(const Options& o, const Job& job);
std::filesystem::path eval_dir(const Options& o, const Job& job, const std::string& evaluation);
std::filesystem::path log_file(const Options& o, const Job& job);

// The command lines of a job (argv without the binary): its pretraining, resumed when `resume`, and
// each evaluation.
std::vector<std::string> pretrain_args(const config::TableSpec& spec, const Options& o, const Job& job, bool resume);
std::vector<std::string> eval_args(const config::TableSpec& spec, const Options& o, const Job& job,
                                   const config::TableEvaluation& e);

struct JobOutcome {
  Job job;
  bool ok = false;
  int ran = 0, reused = 0;  // child processes run, steps found finished
  std::string failure;      // what failed, with the log file to read
};
// Runs the jobs, `options.jobs` at once; returns every outcome (in job order).
std::vector<JobOutcome> run_jobs(const config::TableSpec& spec, const std::vector<Job>& jobs, const Options& options);

struct Cell {
  std::vector<double> values;  // one per seed with a result (scaled)
  std::vector<int64_t> seeds;
  double mean = 0, std = 0;    // std: sample standard deviation (n - 1); 0 for one value
  std::optional<config::Expected> expected;
  std::optional<double> published;
  std::string status;          // "ok", "moved", "missing" (expected but no value) or "" (nothing expected)
};
struct Table {
  const config::TableSpec* spec = nullptr;
  std::map<std::string, std::map<std::string, Cell>> cells;  // row -> column id
  std::vector<std::string> moved;    // "row / column: 61.2 is outside 65.0 +- 2.0"
  std::vector<std::string> missing;  // expected cells without a value
  std::vector<std::string> failed;   // jobs that failed, from run_jobs
};
// Reads every finished job's results (of `rows`, all when empty) and aggregates them.
Table collect(const config::TableSpec& spec, const Options& options, const std::vector<JobOutcome>& outcomes = {});

std::string markdown(const Table& table);
std::string csv(const Table& table);
nlohmann::json json(const Table& table);
// table.md, table.csv and table.json in options.out; returns their paths.
std::vector<std::filesystem::path> write_table(const Table& table, const Options& options);

// Replaces what stands between "<!-- mmcl reproduce SPEC -->" ("<!-- mmcl reproduce SPEC --smoke -->" for
// the smoke size) and the next "<!-- end mmcl reproduce -->" in `doc` with `markdown` (atomically). A
// ConfigError when the markers are missing.
void markdown_into(const std::filesystem::path& doc, const config::TableSpec& spec, const std::string& markdown);

// An sbatch array job of every job (rows x seeds): `templ` with {{name}}, {{array}}, {{out}} and
// {{command}} filled in; the command is `mmcl reproduce SPEC --out OUT --task $SLURM_ARRAY_TASK_ID`.
std::string slurm_script(const config::TableSpec& spec, const Options& options, const std::vector<Job>& jobs,
                         const std::string& templ, const std::string& reproduce_flags);

}  // namespace mmcl::reproduce

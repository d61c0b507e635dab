#pragma once
// The run directory: runs/<name>/{config.yaml, train.log, metrics.jsonl, checkpoints/}.

#include <filesystem>
#include <string>


namespace mmcl {

struct RunDir {
  std::filesystem::path root;
  bool resuming = false;  // the directory existed and --resume was given

  std::filesystem::path config_file() const { return root / "config.yaml"; }
  std::filesystem::path log_file() const { return root / "train.log"; }
  std::filesystem::path metrics_file() const { return root / "metrics.jsonl"; }
  std::filesystem::path results_file() const { return root / "results.json"; }
  std::filesystem::path checkpoints() const { return root / "checkpoints"; }
};

// Where the run goes: `override_dir` if given, else <output_dir>/<run_name or a timestamp>
// (run.output_dir, run.name).
std::filesystem::path run_dir_path(const std::string& output_dir, const std::string& run_name,
                                   const std::string& override_dir);
// Checks that the directory may be used: an existing one needs `resume` (a ConfigError otherwise).
// Writes nothing; call before any output so a refused run leaves the disk as it was.
RunDir plan_run_dir(const std::filesystem::path& path, bool resume);
// Where an evaluation writes, never into another run's files: `override_dir` if given (it must not
// exist yet); else <output_dir>/<run_name or a timestamp> when that is free; else, when it exists (the
// training run of the same config, or an earlier evaluation), a fresh <it>/eval/<subcommand>-<time>.
// Writes nothing.
RunDir plan_eval_dir(const std::string& output_dir, const std::string& run_name, const std::string& subcommand,
                     const std::string& override_dir);
// An exclusive lock on a run directory (flock on <dir>/.lock, which holds the locker's pid), held
// until the object dies or the process ends, however it ends.
class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(int fd) : fd_(fd) {}
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};
// Locks `root` (which must exist); a ConfigError naming the holder's pid when another process holds it.
RunLock lock_run_dir(const std::filesystem::path& root);

// Creates the folder (with checkpoints/ when `training`), locks it (two processes resuming one run
// corrupted it), writes the resolved config (YAML) to config.yaml and adds train.log to the logger. Keep
// the lock while the run writes there.
[[nodiscard]] RunLock open_run_dir(const RunDir& dir, const std::string& config_yaml, bool training = true);

}  // namespace mmcl

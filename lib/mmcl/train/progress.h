#pragma once
// Where training progress goes: metrics.jsonl (one JSON object per logged step), the log, and a
// progress line on the console.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace mmcl::train {

class MetricsLog {
 public:
  // Opens `path` for appending. When resuming from `resume_step`, lines of steps after it (written
  // by the interrupted run after its last checkpoint) are dropped first.
  MetricsLog(const std::filesystem::path& path, int64_t resume_step = -1);
  void write(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

// On a terminal: one line redrawn in place (step/total, loss, samples/s, ETA). Elsewhere (SLURM logs,
// pipes): nothing here; the trainer's periodic log lines carry the same figures.
class Progress {
 public:
  Progress(int64_t first_step, int64_t total_steps, bool show = true);  // show: false draws nothing
  bool interactive() const { return tty_; }
  void update(int64_t step, double loss, double samples_per_s);
  // Clears the line so a log line can be printed, and redraws it after.
  void clear();
  void redraw();
  void finish();
  std::string eta(int64_t step) const;

 private:
  bool tty_;
  int64_t first_, total_;
  std::string line_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mmcl::train

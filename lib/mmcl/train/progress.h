#pragma once
// Where training progress goes: metrics.jsonl (one JSON object per logged step), the log, and a
// progress line on the console.

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "mmcl/io/tensorboard.h"

namespace mmcl::train {

class MetricsLog {
 public:
  // Opens `path` for appending. When resuming from `resume_step`, lines of steps after it (written
  // by the interrupted run after its last checkpoint) are dropped first. With `tensorboard` set, every
  // record's numbers also go to a TensorBoard event file in that folder (tag: the field's name).
  MetricsLog(const std::filesystem::path& path, int64_t resume_step = -1, const std::filesystem::path& tensorboard = {});
  ~MetricsLog();
  // Adds "time" (Unix seconds) and "elapsed_s" (seconds of training in this run, resumed
  // invocations included) to the record, then writes it.
  void write(nlohmann::json record);

 private:
  std::ofstream out_;
  std::chrono::steady_clock::time_point start_;
  double elapsed_before_ = 0;  // a resumed run's elapsed_s at its last kept line
  std::unique_ptr<io::EventWriter> events_;
};

// A finished (or stopped) run's figures from its metrics.jsonl: steps, wall time of training
// (elapsed_s), mean samples/s, final and best loss (with its step), the last record's evaluation
// fields ("eval/..."), `checkpoint`, and train.keep_best's record (checkpoints/best.json) as "best". Written to summary.json beside metrics.jsonl; returns the
// lines printed at the end of the run.
std::string write_run_summary(const std::filesystem::path& run_dir, const std::string& checkpoint);

// On a terminal: one line redrawn in place (a bar, percent, step/total, loss, samples/s, ETA). Elsewhere
// (SLURM logs, pipes): nothing here; the trainer's periodic log lines carry the same figures. The ETA
// is the pace of the last kWindow updates (recent speed, not the average since a slow start).
class Progress {
 public:
  Progress(int64_t first_step, int64_t total_steps, bool show = true);  // show: false draws nothing
  bool interactive() const { return tty_; }
  void update(int64_t step, double loss, double samples_per_s);
  // Clears the line so a log line can be printed, and redraws it after.
  void clear();
  void redraw();
  void finish();
  std::string eta(int64_t step) const { return eta_at(step, std::chrono::steady_clock::now()); }
  std::string eta_at(int64_t step, std::chrono::steady_clock::time_point now) const;
  // Records that `step` was reached now (update does; the ETA reads the window), or at `when`.
  void mark(int64_t step) { mark(step, std::chrono::steady_clock::now()); }
  void mark(int64_t step, std::chrono::steady_clock::time_point when);
  static constexpr size_t kWindow = 50;

 private:
  bool tty_;
  int64_t first_, total_;
  std::string line_;
  std::chrono::steady_clock::time_point start_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> window_;
};

// The terminal line: "[#########-----------]  45% step 90/200 | loss 1.2345 | 150.0 samples/s | ETA 00:01:05".
std::string progress_line(int64_t step, int64_t total, double loss, double samples_per_s, const std::string& eta,
                          int bar_width = 20);
// Seconds as HH:MM:SS ("--:--:--" when negative or not finite).
std::string clock_text(double seconds);

}  // namespace mmcl::train

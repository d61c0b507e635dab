#include "mmcl/train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/json_text.h"

namespace fs = std::filesystem;

namespace mmcl::train {

MetricsLog::MetricsLog(const fs::path& path, int64_t resume_step, const fs::path& tensorboard)
    : start_(std::chrono::steady_clock::now()) {
  std::error_code ec;
  if (resume_step >= 0 && fs::exists(path, ec)) {
    std::istringstream in(read_file(path));
    std::string kept;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) continue;  // a line cut short by a crash
      if (record.value("step", int64_t{0}) <= resume_step) {
        kept += line + "\n";
        elapsed_before_ = record.value("elapsed_s", elapsed_before_);
      }
    }
    write_file_atomic(path, kept);
  }
  out_.open(path, std::ios::app);
  MMCL_CHECK(out_, "cannot open ", path.string());
  if (!tensorboard.empty()) events_ = std::make_unique<io::EventWriter>(tensorboard);
}

MetricsLog::~MetricsLog() = default;

void MetricsLog::write(nlohmann::json record) {
  record["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  record["elapsed_s"] = elapsed_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  out_ << json_text(record) << '\n';
  out_.flush();
  if (events_) {
    const int64_t step = record.value("step", int64_t{0});
    for (const auto& [name, value] : record.items())
      if (value.is_number() && name != "step" && name != "time") events_->scalar(name, value.get<double>(), step);
    events_->flush();  // one flush a metrics line, so TensorBoard shows a live run
  }
}

std::string write_run_summary(const fs::path& run_dir, const std::string& checkpoint) {
  nlohmann::json summary = {{"checkpoint", checkpoint}};
  std::error_code ec;
  const fs::path metrics = run_dir / "metrics.jsonl";
  double rate_sum = 0, best = 0;
  int64_t rates = 0, best_step = -1;
  nlohmann::json last;
  if (fs::exists(metrics, ec)) {
    std::istringstream in(read_file(metrics));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (r.is_discarded() || !r.is_object()) continue;
      if (r.contains("samples_per_s") && r["samples_per_s"].is_number() && r.value("step", 0) > 1)
        rate_sum += r["samples_per_s"].get<double>(), ++rates;
      if (r.contains("loss") && r["loss"].is_number() && (best_step < 0 || r["loss"].get<double>() < best))
        best = r["loss"].get<double>(), best_step = r.value("step", int64_t{0});
      last = std::move(r);
    }
  }
  std::string text;
  if (last.is_object()) {
    summary["steps"] = last.value("step", int64_t{0});
    summary["wall_s"] = last.value("elapsed_s", 0.0);
    if (rates > 0) summary["mean_samples_per_s"] = rate_sum / static_cast<double>(rates);
    if (last.contains("loss")) summary["final_loss"] = last["loss"];
    if (best_step >= 0) summary["best_loss"] = best, summary["best_loss_step"] = best_step;
    for (const auto& [name, value] : last.items())
      if (name.rfind("eval/", 0) == 0 && name != "eval/seconds") summary[name] = value;
    const double wall = summary["wall_s"].get<double>();
    text = format_line("summary: %lld steps in %02lld:%02lld:%02lld", static_cast<long long>(summary["steps"].get<int64_t>()),
                       static_cast<long long>(wall / 3600), static_cast<long long>(wall / 60) % 60,
                       static_cast<long long>(wall) % 60);
    if (rates > 0) text += format_line(", %.1f samples/s on average", summary["mean_samples_per_s"].get<double>());
    if (summary.contains("final_loss")) text += format_line(", final loss %.4f", summary["final_loss"].get<double>());
    if (best_step >= 0) text += format_line(", best %.4f at step %lld", best, static_cast<long long>(best_step));
    for (const auto& [name, value] : summary.items())
      if (name.rfind("eval/", 0) == 0 && value.is_number()) text += format_line(", %s %.4f", name.c_str(), value.get<double>());
  } else {
    text = "summary: no metrics were logged";
  }
  if (!checkpoint.empty()) text += "\n  checkpoint " + checkpoint;
  // train.keep_best's record.
  const fs::path best_file = run_dir / "checkpoints" / "best.json";
  if (fs::exists(best_file, ec)) {
    const nlohmann::json best = nlohmann::json::parse(read_file(best_file), nullptr, /*allow_exceptions=*/false);
    if (best.is_object() && best.contains("value") && best["value"].is_number()) {
      summary["best"] = best;
      text += format_line("\n  best %s %.4f at step %lld: ", best.value("metric", "?").c_str(), best["value"].get<double>(),
                          static_cast<long long>(best.value("step", int64_t{0}))) +
              (run_dir / "checkpoints" / "best.pt").string();
    }
  }
  write_file_atomic(run_dir / "summary.json", json_text(summary) + "\n");
  return text;
}

Progress::Progress(int64_t first_step, int64_t total_steps, bool show)
    : tty_(show && ::isatty(STDERR_FILENO) == 1), first_(first_step), total_(total_steps),
      start_(std::chrono::steady_clock::now()) {}

std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9) return "--:--:--";
  const auto s = static_cast<long long>(seconds);
  return format_line("%02lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

std::string progress_line(int64_t step, int64_t total, double loss, double samples_per_s, const std::string& eta,
                          int bar_width) {
  const double fraction = total > 0 ? std::clamp(static_cast<double>(step) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(fraction * bar_width);
  return format_line("[%s%s] %3d%% step %lld/%lld | loss %.4f | %.1f samples/s | ETA %s",
                     std::string(static_cast<size_t>(filled), '#').c_str(),
                     std::string(static_cast<size_t>(bar_width - filled), '-').c_str(), static_cast<int>(fraction * 100),
                     static_cast<long long>(step), static_cast<long long>(total), loss, samples_per_s, eta.c_str());
}

void Progress::mark(int64_t step, std::chrono::steady_clock::time_point when) {
  window_.emplace_back(when, step);
  while (window_.size() > kWindow) window_.pop_front();
}

std::string Progress::eta_at(int64_t step, std::chrono::steady_clock::time_point now) const {
  // The pace over the window; before two marks, since the start.
  auto from = std::make_pair(start_, first_);
  if (window_.size() >= 2) from = window_.front();
  const double elapsed = std::chrono::duration<double>(now - from.first).count();
  const int64_t done = step - from.second;
  if (done <= 0) return clock_text(-1);
  return clock_text(elapsed / static_cast<double>(done) * static_cast<double>(total_ - step));
}

void Progress::update(int64_t step, double loss, double samples_per_s) {
  mark(step);
  if (!tty_) return;
  line_ = progress_line(step, total_, loss, samples_per_s, eta(step));
  redraw();
}

void Progress::clear() {
  if (tty_ && !line_.empty()) std::fputs("\r\033[K", stderr);
}

void Progress::redraw() {
  if (tty_ && !line_.empty()) {
    std::fprintf(stderr, "\r\033[K%s", line_.c_str());
    std::fflush(stderr);
  }
}

void Progress::finish() {
  if (tty_ && !line_.empty()) std::fputs("\n", stderr);
  line_.clear();
}

}  // namespace mmcl::train

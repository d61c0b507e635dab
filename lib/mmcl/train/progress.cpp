#include "mmcl/train/progress.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <vector>

#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/json_text.h"

namespace fs = std::filesystem;

namespace mmcl::train {

MetricsLog::MetricsLog(const fs::path& path, int64_t resume_step) {
  std::error_code ec;
  if (resume_step >= 0 && fs::exists(path, ec)) {
    std::istringstream in(read_file(path));
    std::string kept;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) continue;  // a line cut short by a crash
      if (record.value("step", int64_t{0}) <= resume_step) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  }
  out_.open(path, std::ios::app);
  MMCL_CHECK(out_, "cannot open ", path.string());
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << json_text(record) << '\n';
  out_.flush();
}

Progress::Progress(int64_t first_step, int64_t total_steps, bool show)
    : tty_(show && ::isatty(STDERR_FILENO) == 1), first_(first_step), total_(total_steps),
      start_(std::chrono::steady_clock::now()) {}

std::string Progress::eta(int64_t step) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - first_;
  if (done <= 0) return "--:--:--";
  const auto left = static_cast<int64_t>(elapsed / static_cast<double>(done) * static_cast<double>(total_ - step));
  return format_line("%02lld:%02lld:%02lld", static_cast<long long>(left / 3600), static_cast<long long>(left / 60 % 60),
                     static_cast<long long>(left % 60));
}

void Progress::update(int64_t step, double loss, double samples_per_s) {
  if (!tty_) return;
  line_ = format_line("step %lld/%lld | loss %.4f | %.1f samples/s | ETA %s", static_cast<long long>(step),
                      static_cast<long long>(total_), loss, samples_per_s, eta(step).c_str());
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

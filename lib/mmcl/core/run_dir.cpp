#include "mmcl/core/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"

namespace fs = std::filesystem;

namespace mmcl {

namespace {

std::string timestamp() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

fs::path run_dir_path(const std::string& output_dir, const std::string& run_name, const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  return fs::path(output_dir) / (run_name.empty() ? timestamp() : run_name);
}

RunDir plan_run_dir(const fs::path& path, bool resume) {
  RunDir dir{path, false};
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) throw ConfigError(str_cat(path.string(), ": exists and is not a directory"));
    if (!resume)
      throw ConfigError(str_cat(path.string(), ": run directory exists; pass --resume to continue it, or choose "
                                "another run.name or --run-dir"));
    dir.resuming = true;
  }
  return dir;
}

RunDir plan_eval_dir(const std::string& output_dir, const std::string& run_name, const std::string& subcommand,
                     const std::string& override_dir) {
  std::error_code ec;
  if (!override_dir.empty()) {
    if (fs::exists(override_dir, ec))
      throw ConfigError(str_cat(override_dir, ": exists; an evaluation writes into a new directory (choose another --run-dir)"));
    return RunDir{override_dir, false};
  }
  const fs::path base = run_dir_path(output_dir, run_name, "");
  if (!fs::exists(base, ec)) return RunDir{base, false};
  // The run of this name exists (most often the training run the same config made): a folder of its own.
  const fs::path folder = base / "eval" / str_cat(subcommand, "-", timestamp());
  fs::path path = folder;
  for (int k = 2; fs::exists(path, ec); ++k) path = folder.string() + "-" + std::to_string(k);
  return RunDir{path, false};
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RunLock lock_run_dir(const fs::path& root) {
  const fs::path file = root / ".lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MMCL_CHECK(fd >= 0, "cannot open ", file.string(), ": ", std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {0};
    const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) throw Error(str_cat("cannot lock ", file.string(), ": ", std::strerror(err)));
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw ConfigError(str_cat(root.string(), ": in use by process ", pid,
                              " (a run, or a resume of it, writes there); wait for it to end or choose another directory"));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the pid; only the message of a second process would lack it.
  }
  return RunLock(fd);
}

RunLock open_run_dir(const RunDir& dir, const std::string& config_yaml, bool training) {
  std::error_code ec;
  const fs::path folder = training ? dir.checkpoints() : dir.root;
  fs::create_directories(folder, ec);
  MMCL_CHECK(!ec, "cannot create ", folder.string(), ": ", ec.message());
  // Before anything is written: a second process on the same directory stops here.
  RunLock lock = lock_run_dir(dir.root);
  write_file_atomic(dir.config_file(), config_yaml);
  log::add_file(dir.log_file().string());
  return lock;
}

}  // namespace mmcl

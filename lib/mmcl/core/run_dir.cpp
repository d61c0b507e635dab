#include "mmcl/core/run_dir.h"

#include <chrono>
#include <ctime>

#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"

namespace fs = std::filesystem;

namespace mmcl {

fs::path run_dir_path(const std::string& output_dir, const std::string& run_name, const std::string& override_dir) {
  if (!override_dir.empty()) return override_dir;
  std::string name = run_name;
  if (name.empty()) {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    name = buf;
  }
  return fs::path(output_dir) / name;
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

void open_run_dir(const RunDir& dir, const std::string& config_yaml, bool training) {
  std::error_code ec;
  const fs::path folder = training ? dir.checkpoints() : dir.root;
  fs::create_directories(folder, ec);
  MMCL_CHECK(!ec, "cannot create ", folder.string(), ": ", ec.message());
  write_file_atomic(dir.config_file(), config_yaml);
  log::add_file(dir.log_file().string());
}

}  // namespace mmcl

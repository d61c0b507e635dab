#include "util.h"

#include <cstdlib>

#include "dist/processes.h"
#include "cli/run_results.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

namespace mmcl::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("mmcl-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_mmcl(const std::string& args, const fs::path& cwd) {
  const std::string command = "cd '" + cwd.string() + "' && '" MMCL_BINARY "' " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void write_text(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

void fuzz_seed(const std::string& target, const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("MMCL_FUZZ_SEEDS");
  if (dir && *dir) write_text(fs::path(dir) / target / name, bytes);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture_path(const std::string& relative) {
  return (fs::path(MMCL_SOURCE_DIR) / "tests" / "fixtures" / relative).string();
}

fs::path shared_dir() {
  const fs::path dir = MMCL_SHARED_DIR;
  std::error_code ec;
  return fs::is_directory(dir / "fixtures", ec) ? dir : fs::path();
}

nlohmann::json run_for_results(const std::string& args, const fs::path& cwd, const std::string& run_name) {
  const CommandResult r = run_mmcl(args, cwd);
  CATCH_CAPTURE(args, r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(read_text(cwd / "runs" / run_name / "results.json"));
}

pid_t spawn_mmcl(const std::string& args, const fs::path& cwd, const fs::path& log) {
  return spawn_process(MMCL_BINARY, args, "", cwd, log);
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mmcl::test

#pragma once
// The test harness: temporary folders, running the mmcl binary, files, and where the shared and
// repository fixtures are. Model and data fixtures are in fixtures.h.

#include <sys/types.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace mmcl::test {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `mmcl <args>` in `cwd` (no shell quoting is done: keep args simple).
CommandResult run_mmcl(const std::string& args, const fs::path& cwd);
// Starts `mmcl <args>` in `cwd` without waiting (output to `log`); returns its pid.
pid_t spawn_mmcl(const std::string& args, const fs::path& cwd, const fs::path& log);
// Waits for `pid` and returns its exit status (-1 if it did not exit normally).
int wait_exit(pid_t pid);

void write_text(const fs::path& path, const std::string& text);
std::string read_text(const fs::path& path);

// With MMCL_FUZZ_SEEDS set (make fuzz), the inputs the tests make become the fuzzers' seed corpora:
// `bytes` is written to $MMCL_FUZZ_SEEDS/<target>/<name>. Without it this does nothing.
void fuzz_seed(const std::string& target, const std::string& name, const std::string& bytes);

// The shared fixtures folder (../shared next to the source tree), or "" when it is absent; tests
// that need it call this and skip with a visible message.
fs::path shared_dir();
// The absolute path of a file under tests/fixtures/ (YAML the tests share, e.g. "models/tiny-clip-16.yaml",
// the CLIP of the colour-square runs, named as model.preset).
std::string fixture_path(const std::string& relative);

}  // namespace mmcl::test

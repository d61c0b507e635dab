#include "mmcl/core/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "mmcl/core/error.h"
#include "mmcl/core/numbers.h"

namespace fs = std::filesystem;

namespace mmcl {
namespace {

void fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  MMCL_CHECK(fd >= 0, "cannot open ", path.string(), ": ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  MMCL_CHECK(rc == 0, "cannot flush ", path.string(), ": ", std::strerror(err));
}

}  // namespace

fs::path temp_path_for(const fs::path& target) {
  return target.parent_path() / str_cat(".", target.filename().string(), ".tmp.", ::getpid());
}

void commit_file(const fs::path& temp, const fs::path& target) {
  fsync_path(temp, false);
  std::error_code ec;
  fs::rename(temp, target, ec);
  MMCL_CHECK(!ec, "cannot rename ", temp.string(), " to ", target.string(), ": ", ec.message());
  fsync_path(target.parent_path().empty() ? fs::path(".") : target.parent_path(), true);
}

void write_file_atomic(const fs::path& target, const std::string& text) {
  const fs::path temp = temp_path_for(target);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    MMCL_CHECK(out, "cannot write ", temp.string());
    out << text;
    out.flush();
    MMCL_CHECK(out, "cannot write ", temp.string());
  }
  commit_file(temp, target);
}

int remove_stale_temporaries(const fs::path& dir) {
  static const std::regex temporary(R"(\..+\.tmp\.(\d+))");
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    const std::string name = it->path().filename().string();
    if (!std::regex_match(name, m, temporary)) continue;
    const auto pid = parse_non_negative(m[1].str());
    if (!pid || *pid == ::getpid()) continue;
    // Still running (or not ours to ask about): its file may be in use.
    if (*pid <= std::numeric_limits<pid_t>::max() && (::kill(static_cast<pid_t>(*pid), 0) == 0 || errno == EPERM)) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  MMCL_CHECK(in, "cannot read ", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mmcl

// The byte streams shards are read from: local files, and the stdout of a command (pipe:, http(s)://).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmcl/core/braces.h"
#include "mmcl/core/error.h"
#include "mmcl/data/tar.h"

extern char** environ;

namespace mmcl::data {
namespace {

// A local file through a 64 KiB buffer filled by pread; a skip within the file only moves the position.
class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0) error_ = str_cat("cannot open (", std::strerror(errno), ")");
    else if (::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override {
    if (fd_ >= 0) ::close(fd_);
  }
  size_t read(char* out, size_t n) override {
    size_t done = 0;
    while (done < n && position_ < size_) {
      if (position_ >= buffer_at_ && position_ < buffer_at_ + buffered_) {
        const size_t k = std::min<uint64_t>(n - done, buffer_at_ + buffered_ - position_);
        std::memcpy(out + done, buffer_.data() + (position_ - buffer_at_), k);
        done += k, position_ += k;
        continue;
      }
      const bool direct = n - done >= buffer_.size();  // large reads bypass the buffer
      char* target = direct ? out + done : buffer_.data();
      const size_t want = direct ? n - done : buffer_.size();
      const ssize_t got = ::pread(fd_, target, want, static_cast<off_t>(position_));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        error_ = got < 0 ? str_cat("read error at byte ", position_, " (", std::strerror(errno), ")") : "";
        break;
      }
      if (direct) {
        done += static_cast<size_t>(got), position_ += static_cast<uint64_t>(got);
      } else {
        buffer_at_ = position_;
        buffered_ = static_cast<uint64_t>(got);
      }
    }
    return done;
  }
  bool skip(uint64_t n) override {
    if (n > size_ - position_) {
      position_ = size_;
      return false;
    }
    position_ += n;
    return true;
  }
  std::optional<uint64_t> size() const override { return size_; }
  std::string finish(bool) override { return error_; }
  bool seekable() const override { return fd_ >= 0; }

 private:
  std::string error_;
  int fd_ = -1;
  uint64_t size_ = 0, position_ = 0;
  std::vector<char> buffer_ = std::vector<char>(64 << 10);
  uint64_t buffer_at_ = 0, buffered_ = 0;
};

// The stdout of `/bin/sh -c COMMAND`; its stderr goes to an unlinked temporary file and its end is
// quoted when the command fails. A command silent for kSilence is given up on.
class CommandSource : public ByteSource {
 public:
  static constexpr int kSilenceSeconds = 600;

  explicit CommandSource(std::string command) : command_(std::move(command)) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      error_ = str_cat("cannot make a pipe (", std::strerror(errno), ")");
      return;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string name = str_cat(tmp && *tmp ? tmp : "/tmp", "/mmcl-stderr-XXXXXX");
    stderr_fd_ = ::mkostemp(name.data(), O_CLOEXEC);
    if (stderr_fd_ >= 0) ::unlink(name.c_str());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (stderr_fd_ >= 0) posix_spawn_file_actions_adddup2(&actions, stderr_fd_, 2);
    // The child starts with no blocked signals and the default actions of those a run handles.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const char* argv[] = {"sh", "-c", command_.c_str(), nullptr};
    const int rc = ::posix_spawn(&pid_, "/bin/sh", &actions, &attr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      pid_ = -1;
      error_ = str_cat("cannot run /bin/sh (", std::strerror(rc), ")");
      return;
    }
    fd_ = out[0];
  }
  ~CommandSource() override { finish(false); }

  size_t read(char* out, size_t n) override {
    size_t done = 0;
    while (done < n && fd_ >= 0 && !eof_) {
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, kSilenceSeconds * 1000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        error_ = str_cat("no output for ", kSilenceSeconds, " s");
        eof_ = true;
        break;
      }
      const ssize_t got = ::read(fd_, out + done, n - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        if (got < 0) error_ = str_cat("read error (", std::strerror(errno), ")");
        eof_ = true;
        break;
      }
      done += static_cast<size_t>(got);
    }
    return done;
  }
  bool skip(uint64_t n) override {
    char scratch[64 << 10];
    while (n > 0) {
      const size_t got = read(scratch, static_cast<size_t>(std::min<uint64_t>(n, sizeof scratch)));
      if (got == 0) return false;
      n -= got;
    }
    return true;
  }

  std::string finish(bool complete) override {
    if (pid_ < 0) return error_;
    bool stopped_by_us = !complete || !error_.empty();
    if (complete && error_.empty()) {
      // What follows the archive's end (tar pads to 10 KiB records) is read, up to 1 MiB, so that a
      // command writing it does not die of a closed pipe.
      char scratch[64 << 10];
      uint64_t drained = 0;
      while (drained < (1u << 20)) {
        const size_t got = read(scratch, sizeof scratch);
        if (got == 0) break;
        drained += got;
      }
      if (!eof_) stopped_by_us = true;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (stopped_by_us) ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    std::string problem = error_;
    if (problem.empty() && !stopped_by_us && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      problem = WIFEXITED(status) ? str_cat("exited with status ", WEXITSTATUS(status))
                                  : str_cat("killed by signal ", WTERMSIG(status));
    if (!problem.empty()) {
      const std::string said = stderr_tail();
      problem = str_cat("`", command_, "` ", problem, said.empty() ? "" : ": ", said);
    }
    if (stderr_fd_ >= 0) ::close(stderr_fd_);
    stderr_fd_ = -1;
    return stopped_by_us && error_.empty() ? std::string() : problem;
  }

 private:
  // The last lines of the command's stderr (at most 600 bytes), on one line.
  std::string stderr_tail() const {
    if (stderr_fd_ < 0) return "";
    struct stat st {};
    if (::fstat(stderr_fd_, &st) != 0 || st.st_size == 0) return "";
    const off_t from = std::max<off_t>(0, st.st_size - 600);
    std::string text(static_cast<size_t>(st.st_size - from), '\0');
    const ssize_t got = ::pread(stderr_fd_, text.data(), text.size(), from);
    text.resize(got > 0 ? static_cast<size_t>(got) : 0);
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }

  std::string command_, error_;
  pid_t pid_ = -1;
  int fd_ = -1, stderr_fd_ = -1;
  bool eof_ = false;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::unique_ptr<ByteSource> open_file_source(const std::string& path) { return std::make_unique<FileSource>(path); }

std::unique_ptr<ByteSource> open_source(const std::string& url) {
  if (starts_with(url, "pipe:")) return std::make_unique<CommandSource>(url.substr(5));
  if (starts_with(url, "http://") || starts_with(url, "https://"))
    return std::make_unique<CommandSource>("curl --fail --silent --show-error --location " + shell_quote(url));
  return open_file_source(url);
}

}  // namespace mmcl::data

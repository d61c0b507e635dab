#pragma once
// Errors and exit codes. Every failure that reaches the user is one of these, so `main` can map it
// to an exit code and a one-line message.

#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mmcl {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,        // a run failed (I/O, numerics, a broken checkpoint, ...)
  kExitUsage = 2,          // bad command line or configuration: nothing was written
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // From MMCL_CHECK: the source file and line of the check, shown in debug logs.
  Error(const std::string& message, const char* file, int line)
      : std::runtime_error(message), where_(std::string(file) + ":" + std::to_string(line)) {}
  virtual int exit_code() const { return kExitRuntime; }
  // "lib/mmcl/x/y.cpp:42" for a failed MMCL_CHECK, else "".
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

// A configuration or command-line error. The message is complete as it stands
// (e.g. `runs/x.yaml:12: optim.lr: expected a positive number, got "abc"`).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message) {}
  int exit_code() const override { return kExitUsage; }
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& out, const T& value, const Rest&... rest) {
  out << value;
  append(out, rest...);
}
}  // namespace detail

template <class... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  detail::append(out, parts...);
  return out.str();
}

// Runs `fn`; a failed allocation inside becomes an Error naming `source` (the file being read):
// std::bad_alloc alone says nothing of what was being done.
template <class Fn>
auto naming_allocation_failure(const std::string& source, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    throw Error(str_cat(source, ": out of memory while reading it"));
  }
}

}  // namespace mmcl

// MMCL_CHECK(cond, parts...) throws mmcl::Error("<parts>") when cond is false; the error remembers
// where the check is (Error::where(), logged at debug level).
#define MMCL_CHECK(cond, ...)                                                        \
  do {                                                                               \
    if (!(cond)) throw ::mmcl::Error(::mmcl::str_cat(__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)

#pragma once
// Console, log and summary text: one way to format it, printf-style into a string of any length.

#include <cstdarg>
#include <cstdio>
#include <string>

namespace mmcl {

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
inline std::string format_line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, args);
  va_end(args);
  return out;
}

}  // namespace mmcl

#pragma once
// Console, log and summary text: one way to format it, printf-style into a string of any length.

#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

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

// "a, b, c" from {"a", "b", "c"} and ", ".
inline std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace mmcl

#pragma once
// Numbers read from files and names: a malformed or overflowing one is a value the caller refuses with
// its own message, never an exception from the standard library without a file name.

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace mmcl {

// A non-negative decimal integer that fits in int64 ("0" .. "9223372036854775807"), or nullopt.
inline std::optional<int64_t> parse_non_negative(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace mmcl

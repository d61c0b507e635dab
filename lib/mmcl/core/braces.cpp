#include "mmcl/core/braces.h"

#include "mmcl/core/error.h"
#include "mmcl/core/numbers.h"

namespace mmcl {
namespace {

constexpr size_t kMaxExpansion = 10'000'000;

// The alternatives of the brace group body `inner` (a range or a comma list at depth 0).
std::vector<std::string> alternatives(const std::string& inner, const std::string& pattern) {
  const size_t dots = inner.find("..");
  if (dots != std::string::npos && inner.find_first_of("{},") == std::string::npos) {
    const std::string lo = inner.substr(0, dots), hi = inner.substr(dots + 2);
    auto is_number = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
    if (!is_number(lo) || !is_number(hi))
      throw Error(str_cat("bad range {", inner, "} in \"", pattern, "\": expected {FIRST..LAST} with integers"));
    const std::optional<int64_t> first = parse_non_negative(lo), last = parse_non_negative(hi);
    if (!first || !last)
      throw Error(str_cat("bad range {", inner, "} in \"", pattern, "\": its numbers do not fit in 64 bits"));
    const long long a = *first, b = *last;
    if (b < a) throw Error(str_cat("bad range {", inner, "} in \"", pattern, "\": the last number is below the first"));
    if (static_cast<unsigned long long>(b - a) >= kMaxExpansion)
      throw Error(str_cat("range {", inner, "} in \"", pattern, "\" is too large"));
    const size_t width = lo.size() > 1 && lo[0] == '0' ? lo.size() : 0;
    std::vector<std::string> out;
    for (long long i = a; i <= b; ++i) {
      std::string s = std::to_string(i);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      out.push_back(std::move(s));
    }
    return out;
  }
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= inner.size(); ++i) {
    if (i == inner.size() || (inner[i] == ',' && depth == 0)) {
      for (std::string& s : expand_braces(inner.substr(start, i - start))) out.push_back(std::move(s));
      start = i + 1;
    } else if (inner[i] == '{') {
      ++depth;
    } else if (inner[i] == '}') {
      --depth;
    }
  }
  return out;
}

void expand_one(const std::string& pattern, std::vector<std::string>& out) {
  const size_t open = pattern.find('{');
  if (open == std::string::npos) {
    if (pattern.find('}') != std::string::npos) throw Error(str_cat("unbalanced '}' in \"", pattern, "\""));
    out.push_back(pattern);
    return;
  }
  if (pattern.substr(0, open).find('}') != std::string::npos)
    throw Error(str_cat("unbalanced '}' in \"", pattern, "\""));
  int depth = 0;
  size_t close = std::string::npos;
  for (size_t i = open; i < pattern.size(); ++i) {
    if (pattern[i] == '{') ++depth;
    if (pattern[i] == '}' && --depth == 0) {
      close = i;
      break;
    }
  }
  if (close == std::string::npos) throw Error(str_cat("unbalanced '{' in \"", pattern, "\""));
  const std::string head = pattern.substr(0, open), tail = pattern.substr(close + 1);
  for (const std::string& middle : alternatives(pattern.substr(open + 1, close - open - 1), pattern)) {
    expand_one(head + middle + tail, out);
    if (out.size() > kMaxExpansion) throw Error(str_cat("\"", pattern, "\" expands to too many names"));
  }
}

}  // namespace

std::vector<std::string> expand_braces(const std::string& pattern) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t sep = pattern.find("::", start);
    const std::string part = pattern.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
    if (!part.empty()) expand_one(part, out);
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
  return out;
}

bool is_remote_shard(const std::string& url) {
  return url.rfind("pipe:", 0) == 0 || url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

}  // namespace mmcl

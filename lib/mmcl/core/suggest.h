#pragma once
// "Did you mean ...?": the candidate closest to a mistyped name.

#include <cstddef>
#include <string>
#include <vector>

namespace mmcl {

// Levenshtein distance (insertions, deletions, substitutions of bytes).
size_t edit_distance(const std::string& a, const std::string& b);
// The candidate at the smallest edit distance below `limit` from `name` (the first of equals), or "".
std::string closest(const std::string& name, const std::vector<std::string>& candidates, size_t limit = 4);

}  // namespace mmcl

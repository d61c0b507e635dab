#pragma once
// A pickle checked before anything builds it: its opcodes walked without making a single value, so
// that a hostile file is refused before a reader (ours or LibTorch's) allocates for it or recurses
// through it.
//
// Checked: the opcodes are binary ones of protocols 2-5, every argument lies inside the data, no
// opcode reaches below its MARK or an empty stack, memo entries are stored before they are fetched,
// the pickle ends with STOP on a one-value stack; at most `max_values` values are pushed; no
// container holds itself and none is nested deeper than `max_depth` (also through the memo and
// through containers filled after they were nested: the depth is measured on the finished graph).
// Freeing a nest of N containers recurses N deep in both readers: 200,000 crashed the process.

#include <cstddef>
#include <string>
#include <string_view>

namespace mmcl::io {

struct PickleLimits {
  int max_depth = 256;
  size_t max_values = size_t{1} << 20;
};

// Throws Error("<source>: byte N: <what is wrong>") (source names the file and record, e.g.
// "model.pt: data.pkl").
void scan_pickle(std::string_view data, const std::string& source, const PickleLimits& limits = {});

}  // namespace mmcl::io

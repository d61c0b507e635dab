#pragma once
// Reading a pickle's bytes: the cursor that scan_pickle and the state-dict unpickler both walk with.
// Every read is bounds-checked against the data; a failure is an Error "<source> byte N: <why>"
// (source names the file and record, e.g. "model.pt: data.pkl").

#include <cstdint>
#include <string>
#include <string_view>

#include "mmcl/core/error.h"

namespace mmcl::io {

class PickleCursor {
 protected:
  PickleCursor(std::string_view data, std::string source) : data_(data), source_(std::move(source)) {}

  [[noreturn]] void fail(size_t where, const std::string& why) const {
    throw Error(str_cat(source_, " byte ", where, ": ", why));
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }
  uint8_t byte() {
    if (pos_ >= data_.size()) fail(pos_, "the pickle ends early");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  std::string_view bytes(uint64_t n) {
    if (n > data_.size() - pos_) fail(pos_, "the pickle ends early");
    const std::string_view out = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  uint64_t little_endian(int n) {
    const std::string_view b = bytes(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
    return v;
  }
  uint32_t uint32() { return static_cast<uint32_t>(little_endian(4)); }
  uint64_t uint64() { return little_endian(8); }
  // A GLOBAL's "module\n" or "name\n" (at most 256 bytes).
  std::string_view line(size_t where) {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos || end - pos_ > 256) fail(where, "a malformed GLOBAL");
    const std::string_view out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }

  std::string_view data_;
  std::string source_;
  size_t pos_ = 0;
};

}  // namespace mmcl::io

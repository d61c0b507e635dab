// The webdataset shard readers: tar headers (ustar, GNU long names, pax, base-256 sizes) from a file
// (the index) and from a stream that cannot seek (pipe: shards, reading every member); they never throw.
#include <algorithm>
#include <cstring>

#include "fuzz.h"
#include "mmcl/data/tar.h"

namespace {

// The input as a command's output would arrive: front to back, no size, no seeking.
class Stream : public mmcl::data::ByteSource {
 public:
  Stream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t read(char* out, size_t n) override {
    const size_t k = std::min(n, size_ - at_);
    std::memcpy(out, data_ + at_, k);
    at_ += k;
    return k;
  }
  bool skip(uint64_t n) override {
    const bool ok = n <= size_ - at_;
    at_ = ok ? at_ + n : size_;
    return ok;
  }
  std::string finish(bool) override { return ""; }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mmcl::fuzz::scratch_file(data, size, ".tar");
  const auto index = mmcl::data::scan_tar(path);
  for (const auto& m : index.members)
    if (m.offset > size || m.size > size - m.offset) std::abort();  // a member reaching past the file
  Stream stream(data, size);
  mmcl::data::TarReader reader(stream);
  size_t members = 0;
  std::string bytes;
  while (const auto m = reader.next()) {
    if (reader.read_data(bytes) && bytes.size() != m->size) std::abort();
    if (bytes.size() > size) std::abort();  // never more than the stream held
    ++members;
  }
  // Both readers see the same members (the file one stops early only where the stream ends too).
  if (reader.problem().empty() && index.problem.empty() && members != index.members.size()) std::abort();
  return 0;
}

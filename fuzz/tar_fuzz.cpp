// The webdataset shard index: tar headers (ustar, GNU long names, pax, base-256 sizes); it never throws.
#include "fuzz.h"
#include "mmcl/data/tar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mmcl::fuzz::scratch_file(data, size, ".tar");
  const auto index = mmcl::data::scan_tar(path);
  for (const auto& m : index.members)
    if (m.offset > size || m.size > size - m.offset) std::abort();  // a member reaching past the file
  return 0;
}

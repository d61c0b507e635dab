// The safetensors reader: header length, JSON header, dtypes, shapes and offsets against the file.
#include "fuzz.h"
#include "mmcl/core/error.h"
#include "mmcl/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mmcl::fuzz::scratch_file(data, size, ".safetensors");
  try {
    const auto st = mmcl::io::load_safetensors(path);
    for (const auto& [name, t] : st.tensors) (void)t.sum().item<double>();  // every byte it maps is readable
  } catch (const mmcl::Error&) {
  }
  return 0;
}

// The state-dict unpickler (after scan_pickle): storages are served as zeros of the promised size.
#include "fuzz.h"
#include "mmcl/core/error.h"
#include "mmcl/io/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto tensors = mmcl::io::unpickle_state_dict(
        mmcl::fuzz::text(data, size),
        [](const std::string& key, uint64_t bytes) {
          if (bytes > (uint64_t{1} << 24)) throw mmcl::Error("storage " + key + ": larger than the fuzzer serves");
          return std::string(static_cast<size_t>(bytes), '\0');
        },
        "fuzz.pt");
    for (const auto& [name, t] : tensors) (void)t.sum().item<double>();
  } catch (const mmcl::Error&) {
  }
  return 0;
}

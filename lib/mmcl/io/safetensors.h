#pragma once
// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw bytes. Nothing
// in it is executed, so it is the safe way to exchange weights and embeddings.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmcl::io {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

struct Safetensors {
  NamedTensors tensors;                         // in file order
  std::map<std::string, std::string> metadata;  // the header's "__metadata__"
};

// Writes `tensors` (any device; copied to CPU, contiguous) atomically. Supported dtypes: float64/32/16,
// bfloat16, int64/32/16/8, uint8, bool. Throws Error on a duplicate name or an unsupported dtype.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Maps a file (tensors point into the mapping, copy-on-write), checking the header against the file (every byte range inside the data, no overlap,
// sizes matching shapes); throws Error naming the file and the problem.
Safetensors load_safetensors(const std::filesystem::path& path);

}  // namespace mmcl::io

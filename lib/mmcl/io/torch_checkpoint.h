#pragma once
// PyTorch checkpoints written by torch.save (the zip format of torch >= 1.6): a state dict
// (`torch.save(model.state_dict())`, open_clip's open_clip_pytorch_model.bin) or a training checkpoint
// holding one under "state_dict".
//
// The archive's data.pkl is read by a small unpickler of our own that accepts only what a state dict
// is made of (dicts, OrderedDict, tuples, lists, numbers, strings, tensors rebuilt from the archive's
// storages) and refuses everything else: no code is run, and every storage, offset and stride is
// checked against the bytes the archive holds.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "mmcl/io/safetensors.h"

namespace mmcl::io {

// The tensors of the checkpoint's state dict, in file order ("module." prefixes of DistributedDataParallel
// removed). Throws Error naming the file and what is wrong.
NamedTensors load_torch_checkpoint(const std::filesystem::path& path);

// The same from the bytes of a data.pkl and a way to fetch storage records ("data/<key>", promised to
// hold `bytes`): the part that needs no archive (tests feed it hand-made pickles). The pickle is
// checked by scan_pickle before a value is built.
using StorageReader = std::function<std::string(const std::string& key, uint64_t bytes)>;
NamedTensors unpickle_state_dict(const std::string& pickle, const StorageReader& storages, const std::string& source);

// Checks a zip archive of PyTorch's format before LibTorch's own reader is given it (mmcl's
// checkpoints are read by LibTorch): the file is a whole zip archive, no record is a compression bomb
// or larger than the file, every pickle passes scan_pickle (nesting, size, structure), and its code
// declares classes only (LibTorch would compile it and run a __setstate__). Throws Error naming the
// file and record.
void check_torch_archive(const std::filesystem::path& path);

// Weights from a .safetensors file or a torch.save zip archive, told apart by their first bytes.
NamedTensors load_weights(const std::filesystem::path& path);

}  // namespace mmcl::io

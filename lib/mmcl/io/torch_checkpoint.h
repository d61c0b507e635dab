#pragma once
// PyTorch checkpoints written by torch.save (the zip format of torch >= 1.6): a state dict
// (`torch.save(model.state_dict())`, open_clip's open_clip_pytorch_model.bin) or a training checkpoint
// holding one under "state_dict".
//
// The archive's data.pkl is read by a small unpickler of our own that accepts only what a state dict
// is made of (dicts, OrderedDict, tuples, lists, numbers, strings, tensors rebuilt from the archive's
// storages) and refuses everything else: no code is run, and every storage, offset and stride is
// checked against the bytes the archive holds.

#include <filesystem>
#include <functional>
#include <string>

#include "mmcl/io/safetensors.h"

namespace mmcl::io {

// The tensors of the checkpoint's state dict, in file order ("module." prefixes of DistributedDataParallel
// removed). Throws Error naming the file and what is wrong.
NamedTensors load_torch_checkpoint(const std::filesystem::path& path);

// The same from the bytes of a data.pkl and a way to fetch storage records ("data/<key>"): the part
// that needs no archive (tests feed it hand-made pickles).
using StorageReader = std::function<std::string(const std::string& key)>;
NamedTensors unpickle_state_dict(const std::string& pickle, const StorageReader& storages, const std::string& source);

// Weights from a .safetensors file or a torch.save zip archive, told apart by their first bytes.
NamedTensors load_weights(const std::filesystem::path& path);

}  // namespace mmcl::io

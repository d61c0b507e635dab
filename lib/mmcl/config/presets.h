#pragma once
// Model presets from configs/models/*.yaml, compiled into the binary.

#include <string>
#include <vector>

namespace mmcl::config {

struct EmbeddedPreset {
  const char* name;  // file name without .yaml, e.g. "clip-vit-tiny"
  const char* path;  // path in the source tree, used in error messages
  const char* yaml;  // the file's text: the keys of the `model:` section
};

const std::vector<EmbeddedPreset>& embedded_presets();

}  // namespace mmcl::config

#pragma once
// Model presets from configs/models/*.yaml and run configs from configs/runs/*.yaml, compiled into the binary.

#include <string>
#include <vector>

namespace mmcl::config {

struct EmbeddedPreset {
  const char* name;  // file name without .yaml, e.g. "clip-vit-tiny"
  const char* path;  // path in the source tree, used in error messages
  const char* yaml;  // the file's text: the keys of the `model:` section
};

const std::vector<EmbeddedPreset>& embedded_presets();
// The run configs of configs/runs/*.yaml (whole configs: `--config NAME` reads one when no file NAME
// exists); run_config_description: the first sentence of its leading comment.
const std::vector<EmbeddedPreset>& embedded_run_configs();
std::string run_config_description(const EmbeddedPreset& run);

}  // namespace mmcl::config

// YAML run configs and --set: lines before the first "---" line are --set arguments, the rest is the
// YAML. Every refusal must be a ConfigError (exit 2, naming file, line and key).
#include "fuzz.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input = mmcl::fuzz::text(data, size);
  std::vector<std::string> sets;
  std::string yaml = input;
  const size_t split = input.find("\n---\n");
  if (split != std::string::npos) {
    yaml = input.substr(split + 5);
    for (size_t begin = 0; begin < split;) {
      const size_t end = std::min(input.find('\n', begin), split);
      sets.push_back(input.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  try {
    (void)mmcl::config::load_config_text(yaml, "fuzz.yaml", sets);
  } catch (const mmcl::ConfigError&) {
  }
  return 0;
}

#pragma once
// What the libFuzzer targets share: inputs that must be files, and the rule of what counts as a
// finding. mmcl's documented refusals (mmcl::Error and its kinds) are correct answers to a hostile
// input; anything else escaping (another exception, a crash, a sanitizer report, a hang, memory past
// -rss_limit_mb) is a finding.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "mmcl/core/log.h"

namespace mmcl::fuzz {

// Warnings about skipped lines and samples are what hostile input is for: silenced, they would fill
// the disk (a minute of the manifest fuzzer logged 260 MB) and slow each execution.
inline const bool kQuiet = [] {
  spdlog::set_level(spdlog::level::off);
  return true;
}();

// `data` written to a scratch file ending in `extension`, one per process (in /dev/shm when it exists).
inline std::string scratch_file(const uint8_t* data, size_t size, const std::string& extension) {
  static const std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/mmcl-fuzz-" + std::to_string(::getpid()) + extension;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

inline std::string text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

}  // namespace mmcl::fuzz

#include "mmcl/core/log.h"

#include <memory>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace mmcl::log {
namespace {
constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] %v";
}

void init_console() {
  static bool done = false;
  if (done) return;
  done = true;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("mmcl", console);
  logger->set_pattern(kPattern);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void add_file(const std::string& path) {
  init_console();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  file->set_pattern(kPattern);
  spdlog::default_logger()->sinks().push_back(file);
}

void remove_files() {
  auto& sinks = spdlog::default_logger()->sinks();
  if (sinks.size() > 1) sinks.resize(1);
}

}  // namespace mmcl::log

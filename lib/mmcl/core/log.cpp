#include "mmcl/core/log.h"

#include <cstdlib>
#include <memory>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace mmcl::log {
namespace {
std::string g_pattern = "[%Y-%m-%d %H:%M:%S.%e] [%l] %v";
}

void init_console() {
  static bool done = false;
  if (done) return;
  done = true;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("mmcl", console);
  logger->set_pattern(g_pattern);
  logger->flush_on(spdlog::level::info);
  // MMCL_LOG_LEVEL=debug also shows, for instance, the source line of a failed internal check.
  if (const char* level = std::getenv("MMCL_LOG_LEVEL")) logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

void add_file(const std::string& path) {
  init_console();
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  file->set_pattern(g_pattern);
  spdlog::default_logger()->sinks().push_back(file);
}

void set_rank(int64_t rank, int64_t world_size) {
  init_console();
  if (world_size <= 1) return;
  g_pattern = "[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(rank) + "] [%l] %v";
  spdlog::default_logger()->set_pattern(g_pattern);
  if (rank != 0) spdlog::default_logger()->set_level(spdlog::level::warn);
}

void remove_files() {
  auto& sinks = spdlog::default_logger()->sinks();
  if (sinks.size() > 1) sinks.resize(1);
}

}  // namespace mmcl::log

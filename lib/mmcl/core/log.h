#pragma once
// Logging: spdlog's default logger writes to stderr (the console) and, once a run directory exists,
// to <run>/train.log as well.

#include <cstdint>
#include <string>

#include <spdlog/spdlog.h>

namespace mmcl::log {

// Console logging; idempotent.
void init_console();
// Also log to `path` (appending, so a resumed run keeps its history).
void add_file(const std::string& path);
// In a run of several processes: lines carry "rank R", and ranks other than 0 log warnings and errors only.
void set_rank(int64_t rank, int64_t world_size);
// Drop the file sink (the run is over).
void remove_files();

}  // namespace mmcl::log

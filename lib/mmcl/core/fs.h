#pragma once
// File helpers that never leave a half-written file behind.

#include <filesystem>
#include <string>

namespace mmcl {

// A temporary name next to `target` for a file that commit_file() will move into place.
std::filesystem::path temp_path_for(const std::filesystem::path& target);
// fsyncs `temp`, renames it over `target` and fsyncs the folder: readers see the old file or the new
// one, never a partial one, even after a crash.
void commit_file(const std::filesystem::path& temp, const std::filesystem::path& target);
// Writes `text` to `target` atomically (temp file + commit_file).
void write_file_atomic(const std::filesystem::path& target, const std::string& text);
// Removes the temporary files (temp_path_for) in `dir` that processes no longer running left behind
// (killed mid-write, or stopped by a full disk); returns how many.
int remove_stale_temporaries(const std::filesystem::path& dir);
std::string read_file(const std::filesystem::path& path);

}  // namespace mmcl

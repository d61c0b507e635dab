#pragma once
// What the ffprobe / ffmpeg command-line tools say about a file, to check the decoders against.

#include <string>
#include <vector>

namespace mmcl::test {

// Whether `ffprobe` and `ffmpeg` run (Debian's ffmpeg package).
bool have_ffmpeg_tools();
// stdout of a shell command (throws if it fails).
std::string command_output(const std::string& command);
// Presentation times (seconds) of every frame of the first video stream, minus the stream's start time.
std::vector<double> ffprobe_frame_times(const std::string& path);

}  // namespace mmcl::test

#include "media/probe.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace mmcl::test {

bool have_ffmpeg_tools() {
  return std::system("ffprobe -version > /dev/null 2>&1") == 0 && std::system("ffmpeg -version > /dev/null 2>&1") == 0;
}

std::string command_output(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string out;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("failed: " + command);
  return out;
}

std::vector<double> ffprobe_frame_times(const std::string& path) {
  const std::string start = command_output("ffprobe -v error -select_streams v:0 -show_entries stream=start_time -of "
                                           "csv=p=0 '" + path + "'");
  const double origin = start.find("N/A") == std::string::npos ? std::stod(start) : 0.0;
  std::istringstream lines(command_output("ffprobe -v error -select_streams v:0 -show_entries "
                                          "frame=best_effort_timestamp_time -of csv=p=0 '" + path + "'"));
  std::vector<double> times;
  // A frame without a timestamp (ffprobe: N/A) follows the previous one by the last interval.
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.find("N/A") == std::string::npos)
      times.push_back(std::stod(line) - origin);
    else if (times.size() >= 2)
      times.push_back(2 * times.back() - times[times.size() - 2]);
  }
  return times;
}

}  // namespace mmcl::test

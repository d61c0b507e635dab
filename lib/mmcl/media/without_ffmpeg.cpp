// The decoders of a build without FFmpeg (cmake -DMMCL_WITH_FFMPEG=OFF, e.g. on a GPU machine that has
// PyTorch but not FFmpeg's libraries): opening a video or audio file is a DecodeError naming the file,
// which datasets count and skip like any unreadable sample.
#include "mmcl/media/audio.h"
#include "mmcl/media/video.h"

namespace mmcl::media {
namespace {
[[noreturn]] void unavailable(const std::string& path) {
  throw DecodeError(str_cat(path, ": this mmcl was built without FFmpeg (MMCL_WITH_FFMPEG=OFF), so it reads no video "
                            "or audio files"));
}
}  // namespace

struct VideoReader::Impl {};
VideoReader::VideoReader(const std::string& path, int) { unavailable(path); }
VideoReader::~VideoReader() = default;
const std::string& VideoReader::path() const { unavailable(""); }
const VideoInfo& VideoReader::info() const { unavailable(""); }
Clip VideoReader::read(const ClipSpec&) { unavailable(""); }
std::vector<double> VideoReader::frame_times() { unavailable(""); }

struct AudioReader::Impl {};
AudioReader::AudioReader(const std::string& path) { unavailable(path); }
AudioReader::~AudioReader() = default;
const AudioInfo& AudioReader::info() const { unavailable(""); }
Audio AudioReader::read(const AudioSpec&) { unavailable(""); }

}  // namespace mmcl::media

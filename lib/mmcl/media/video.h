#pragma once
// Video clips through FFmpeg (libavformat, libavcodec, libswscale): any container and codec FFmpeg
// reads. A clip is T frames from a start time, either every `stride`-th decoded frame or sampled at a
// target rate by presentation timestamp (so variable frame rates come out right). The reader seeks to
// the key frame at or before the start, decodes forward, scales with swscale and returns RGB.
//
// A reader keeps its file and decoder open, so clips of the same file reuse them. Problems with the
// file (missing, no video stream, unknown codec, no frames, corrupt beyond repair, over the time
// budget) throw DecodeError; corrupt packets that can be skipped are skipped and counted.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mmcl/media/error.h"

namespace mmcl::media {

struct VideoInfo {
  int64_t width = 0, height = 0;
  double fps = 0;           // average frame rate (0 if unknown)
  double duration = 0;      // seconds (0 if unknown)
  int64_t frames = 0;       // the container's frame count, or duration x fps (an estimate for some formats)
  std::string codec;
  bool has_audio = false;
};

struct ClipSpec {
  double start = 0;           // seconds from the first frame
  int64_t frames = 16;        // T
  int64_t stride = 1;         // every stride-th decoded frame (when fps is 0)
  double fps = 0;             // > 0: the frame shown at start + k / fps, for k < T
  int64_t short_side = 0;     // scale so the shorter side is this (0: the file's size)
  double time_budget_s = 10;  // a clip taking longer throws DecodeError
};

struct Clip {
  at::Tensor rgb;             // uint8 [T, H, W, 3]
  std::vector<double> times;  // presentation time of each frame, seconds from the first frame
  int64_t padded = 0;         // frames repeated because the video ended first
  int64_t corrupt_packets = 0;

  // float [T, 3, H, W] in [0, 1]
  at::Tensor to_float() const;
};

class VideoReader {
 public:
  // `threads` decoder threads (frame and slice threading); 0: FFmpeg's choice.
  explicit VideoReader(const std::string& path, int threads = 1);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const std::string& path() const;
  const VideoInfo& info() const;
  Clip read(const ClipSpec& spec);
  // Presentation times of every frame (decodes the whole stream), seconds from the first frame.
  std::vector<double> frame_times();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Output size for a frame of w x h with the shorter side scaled to `short_side` (0: unchanged).
std::pair<int64_t, int64_t> scaled_size(int64_t w, int64_t h, int64_t short_side);
// Why frames of w x h (scaled to ow x oh) are not read, or nullopt: an aspect ratio beyond 16:1 (a video
// of 2 x 32000 pixels scaled to a short side of 112 made frames of 112 x 1.8 million) or scaled frames
// of more than 4096 x 4096 pixels.
std::optional<std::string> frame_size_problem(int64_t w, int64_t h, int64_t ow, int64_t oh);

}  // namespace mmcl::media

#pragma once
// One decoded stream of a media file, shared by the video and audio readers (private to media/):
// opening with FFmpeg, choosing the best stream of a type, its decoder, seeking, and the decode
// loop (corrupt packets skipped and counted, a deadline).

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
}

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace mmcl::media::detail {

std::string av_message(int code);

struct FormatCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecFreer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFreer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

class StreamDecoder {
 public:
  // Opens `path` and the decoder of its best stream of `type`; throws DecodeError.
  StreamDecoder(std::string path, AVMediaType type, int threads);

  [[noreturn]] void fail(const std::string& what) const;
  const std::string& path() const { return path_; }
  AVFormatContext* format() const { return fmt_.get(); }
  AVStream* stream() const { return fmt_->streams[stream_]; }
  AVCodecContext* codec() const { return codec_.get(); }
  // Seconds from the stream's start for a timestamp in its time base.
  double seconds(int64_t pts) const;
  // Duration in seconds (stream's, else the container's; 0 if unknown).
  double duration() const;
  // Positions the stream at the key frame at or before `start` seconds (no-op on a fresh decoder
  // for start 0).
  void seek(double start);
  // Decodes frames in presentation order, calling on_frame(frame, seconds) until it returns false or
  // the stream ends. Returns the number of corrupt packets or frames skipped. Packets shown before
  // `skip_before` seconds are decoded only if other frames refer to them (non-reference frames there
  // are discarded unseen: the pre-roll from a key frame costs less).
  int64_t decode(const std::function<bool(const AVFrame*, double)>& on_frame,
                 std::chrono::steady_clock::time_point deadline, double skip_before = -1);

 private:
  std::string path_;
  std::unique_ptr<AVFormatContext, FormatCloser> fmt_;
  std::unique_ptr<AVCodecContext, CodecFreer> codec_;
  std::unique_ptr<AVFrame, FrameFreer> frame_{av_frame_alloc()};
  std::unique_ptr<AVPacket, PacketFreer> packet_{av_packet_alloc()};
  int stream_ = -1;
  int64_t origin_ = 0;  // pts of time 0
  bool fresh_ = true;
};

std::chrono::steady_clock::time_point deadline_after(double seconds);

}  // namespace mmcl::media::detail

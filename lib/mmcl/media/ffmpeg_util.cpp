#include "mmcl/media/ffmpeg_util.h"

#include <cmath>
#include <mutex>

#include "mmcl/media/video.h"

namespace mmcl::media::detail {
namespace {
constexpr int64_t kMaxCorrupt = 64;
}

std::string av_message(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

std::chrono::steady_clock::time_point deadline_after(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

void StreamDecoder::fail(const std::string& what) const { throw DecodeError(path_ + ": " + what); }

StreamDecoder::StreamDecoder(std::string path, AVMediaType type, int threads) : path_(std::move(path)) {
  // Problems reach the user through DecodeError and the loader's skip log, not FFmpeg's own lines.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_FATAL); });
  const char* kind = type == AVMEDIA_TYPE_VIDEO ? "video" : "audio";

  AVFormatContext* raw = nullptr;
  int r = avformat_open_input(&raw, path_.c_str(), nullptr, nullptr);
  if (r < 0) fail("cannot open: " + av_message(r));
  fmt_.reset(raw);
  r = avformat_find_stream_info(fmt_.get(), nullptr);
  if (r < 0) fail("cannot read stream information: " + av_message(r));
  const AVCodec* decoder = nullptr;
  stream_ = av_find_best_stream(fmt_.get(), type, -1, -1, &decoder, 0);
  if (stream_ == AVERROR_STREAM_NOT_FOUND) fail(std::string("no ") + kind + " stream");
  if (stream_ < 0 || !decoder) {
    const int any = av_find_best_stream(fmt_.get(), type, -1, -1, nullptr, 0);
    const AVCodecID id = any >= 0 ? fmt_->streams[any]->codecpar->codec_id : AV_CODEC_ID_NONE;
    fail(std::string("no decoder for its ") + kind + " codec (" + avcodec_get_name(id) + ")");
  }
  codec_.reset(avcodec_alloc_context3(decoder));
  if (!codec_) fail("out of memory");
  r = avcodec_parameters_to_context(codec_.get(), stream()->codecpar);
  if (r < 0) fail("bad codec parameters: " + av_message(r));
  codec_->thread_count = threads;
  codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  r = avcodec_open2(codec_.get(), decoder, nullptr);
  if (r < 0) fail(std::string("cannot open the ") + decoder->name + " decoder: " + av_message(r));
  origin_ = stream()->start_time != AV_NOPTS_VALUE ? stream()->start_time : 0;
}

double StreamDecoder::seconds(int64_t pts) const {
  return static_cast<double>(pts - origin_) * av_q2d(stream()->time_base);
}

double StreamDecoder::duration() const {
  const AVStream* st = stream();
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0) return static_cast<double>(st->duration) * av_q2d(st->time_base);
  if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0) return static_cast<double>(fmt_->duration) / AV_TIME_BASE;
  return 0;
}

void StreamDecoder::seek(double start) {
  if (fresh_ && start <= 0) return;
  const auto target = origin_ + static_cast<int64_t>(std::floor(start / av_q2d(stream()->time_base)));
  int r = av_seek_frame(fmt_.get(), stream_, target, AVSEEK_FLAG_BACKWARD);
  if (r < 0) r = av_seek_frame(fmt_.get(), stream_, origin_, AVSEEK_FLAG_BACKWARD);  // from the beginning
  if (r < 0) r = avformat_seek_file(fmt_.get(), -1, INT64_MIN, 0, 0, 0);
  if (r < 0) fail("cannot seek: " + av_message(r));
  avcodec_flush_buffers(codec_.get());
}

int64_t StreamDecoder::decode(const std::function<bool(const AVFrame*, double)>& on_frame,
                              std::chrono::steady_clock::time_point deadline, double skip_before) {
  fresh_ = false;
  int64_t corrupt = 0;
  bool draining = false;
  // A frame without a timestamp (some AVI files' last frame) follows the previous one by the frame
  // interval.
  const AVRational rate = stream()->avg_frame_rate.num > 0 ? stream()->avg_frame_rate : stream()->r_frame_rate;
  const double interval = rate.num > 0 && rate.den > 0 ? 1.0 / av_q2d(rate) : 0.0;
  double last = -1;
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline) fail("decoding took longer than the time budget");
    if (!draining) {
      const int r = av_read_frame(fmt_.get(), packet_.get());
      if (r < 0) {
        draining = true;  // end of file (or an unreadable tail): drain the decoder
        avcodec_send_packet(codec_.get(), nullptr);
      } else if (packet_->stream_index != stream_) {
        av_packet_unref(packet_.get());
        continue;
      } else {
        if (skip_before > 0) {
          const int64_t ts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
          // A frame interval of margin: a packet's timestamp may be its decoding time.
          const bool early = ts != AV_NOPTS_VALUE && seconds(ts) < skip_before - 2 * std::max(interval, 0.05);
          codec_->skip_frame = early ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
        }
        const int s = avcodec_send_packet(codec_.get(), packet_.get());
        av_packet_unref(packet_.get());
        if (s < 0 && s != AVERROR(EAGAIN)) {
          if (++corrupt > kMaxCorrupt) fail("too many corrupt packets: " + av_message(s));
          continue;
        }
      }
    }
    for (;;) {
      const int r = avcodec_receive_frame(codec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN)) break;
      if (r == AVERROR_EOF) return corrupt;
      if (r < 0) {
        if (++corrupt > kMaxCorrupt) fail("too many undecodable frames: " + av_message(r));
        continue;
      }
      int64_t pts = frame_->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE) pts = frame_->pts;
      double t = 0;
      if (pts != AV_NOPTS_VALUE) t = seconds(pts);
      else if (last >= 0 && interval > 0) t = last + interval;
      else fail("a frame has no timestamp");
      last = t;
      const bool more = on_frame(frame_.get(), t);
      av_frame_unref(frame_.get());
      if (!more) return corrupt;
    }
  }
}

}  // namespace mmcl::media::detail

#include "mmcl/media/video.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include <ATen/ATen.h>

#include "mmcl/media/ffmpeg_util.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace mmcl::media {

using namespace detail;

struct VideoReader::Impl {
  explicit Impl(const std::string& path, int threads) : dec(path, AVMEDIA_TYPE_VIDEO, threads) {
    const AVStream* st = dec.stream();
    info.width = st->codecpar->width;
    info.height = st->codecpar->height;
    if (info.width <= 0 || info.height <= 0) fail("the video stream has no frame size");
    const AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
    info.fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0.0;
    info.duration = dec.duration();
    info.frames = st->nb_frames > 0 ? st->nb_frames : std::llround(info.duration * info.fps);
    info.codec = dec.codec()->codec->name;
    info.has_audio = av_find_best_stream(dec.format(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) >= 0;
  }

  [[noreturn]] void fail(const std::string& what) const { dec.fail(what); }

  StreamDecoder dec;
  VideoInfo info;
  std::unique_ptr<AVFrame, FrameFreer> held{av_frame_alloc()};  // the latest frame at or before a target time
  SwsContext* sws = nullptr;

  void convert(const AVFrame* f, at::Tensor& out, int64_t k) {
    const int64_t oh = out.size(1), ow = out.size(2);
    sws = sws_getCachedContext(sws, f->width, f->height, static_cast<AVPixelFormat>(f->format), static_cast<int>(ow),
                               static_cast<int>(oh), AV_PIX_FMT_RGB24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!sws) fail("cannot convert its pixel format to RGB");
    // swscale's vector code may write past the end of a row whose length is not aligned: convert into
    // an aligned, padded buffer and copy the rows out.
    const int64_t row = ow * 3, linesize = (row + 63) / 64 * 64;
    scratch.resize(static_cast<size_t>(linesize * oh + 64));
    uint8_t* dst[4] = {scratch.data(), nullptr, nullptr, nullptr};
    int stride[4] = {static_cast<int>(linesize), 0, 0, 0};
    sws_scale(sws, f->data, f->linesize, 0, f->height, dst, stride);
    uint8_t* to = out.data_ptr<uint8_t>() + k * oh * row;
    for (int64_t y = 0; y < oh; ++y) std::memcpy(to + y * row, scratch.data() + y * linesize, static_cast<size_t>(row));
  }

  std::vector<uint8_t> scratch;
};

VideoReader::VideoReader(const std::string& path, int threads) : impl_(std::make_unique<Impl>(path, threads)) {}

VideoReader::~VideoReader() {
  if (impl_ && impl_->sws) sws_freeContext(impl_->sws);
}

const std::string& VideoReader::path() const { return impl_->dec.path(); }
const VideoInfo& VideoReader::info() const { return impl_->info; }

Clip VideoReader::read(const ClipSpec& spec) {
  Impl& m = *impl_;
  if (spec.frames < 1 || spec.stride < 1) m.fail("a clip needs frames >= 1 and stride >= 1");
  const auto deadline = deadline_after(spec.time_budget_s);
  const auto [ow, oh] = scaled_size(m.info.width, m.info.height, spec.short_side);
  if (const auto problem = frame_size_problem(m.info.width, m.info.height, ow, oh)) m.fail(*problem);
  Clip clip;
  clip.rgb = at::empty({spec.frames, oh, ow, 3}, at::kByte);
  const double start = std::max(0.0, spec.start);
  constexpr double eps = 1e-6;
  m.dec.seek(start);

  int64_t k = 0;  // frames written
  if (spec.fps <= 0) {
    int64_t seen = 0;  // frames at or after the start
    clip.corrupt_packets = m.dec.decode(
        [&](const AVFrame* f, double t) {
          if (t < start - eps) return true;
          if (seen++ % spec.stride == 0) {
            m.convert(f, clip.rgb, k++);
            clip.times.push_back(t);
          }
          return k < spec.frames;
        },
        deadline, start);
  } else {
    // Target k is start + k / fps; it shows the latest frame at or before it (the first frame after
    // the seek when none is earlier).
    bool have = false;
    double held_t = 0;
    auto emit_until = [&](const AVFrame* f, double shown_t, double limit) {
      for (; k < spec.frames && start + static_cast<double>(k) / spec.fps < limit - eps; ++k) {
        m.convert(f, clip.rgb, k);
        clip.times.push_back(shown_t);
      }
    };
    clip.corrupt_packets = m.dec.decode(
        [&](const AVFrame* f, double t) {
          if (have) emit_until(m.held.get(), held_t, t);
          else emit_until(f, t, t);
          av_frame_unref(m.held.get());
          av_frame_ref(m.held.get(), f);
          held_t = t;
          have = true;
          return k < spec.frames;
        },
        deadline);
    if (have) {
      // After the last frame: targets within one frame interval still show it; later ones are padding.
      const double native = m.info.fps > 0 ? 1.0 / m.info.fps : 1.0 / spec.fps;
      emit_until(m.held.get(), held_t, held_t + native);
    }
    av_frame_unref(m.held.get());
  }
  if (k == 0) m.fail(str_cat("no frame at or after ", start, " s (duration ", m.info.duration, " s)"));
  for (; k < spec.frames; ++k) {
    clip.rgb[k].copy_(clip.rgb[k - 1]);
    clip.times.push_back(clip.times.back());
    ++clip.padded;
  }
  return clip;
}

std::vector<double> VideoReader::frame_times() {
  Impl& m = *impl_;
  m.dec.seek(0);
  std::vector<double> times;
  m.dec.decode(
      [&](const AVFrame*, double t) {
        times.push_back(t);
        return true;
      },
      deadline_after(3600));
  return times;
}

}  // namespace mmcl::media

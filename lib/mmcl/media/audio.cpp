#include "mmcl/media/audio.h"

#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "mmcl/media/ffmpeg_util.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
}

namespace mmcl::media {

using namespace detail;

struct AudioReader::Impl {
  explicit Impl(const std::string& path) : dec(path, AVMEDIA_TYPE_AUDIO, 1) {
    const AVCodecContext* c = dec.codec();
    info.sample_rate = c->sample_rate;
    info.channels = c->ch_layout.nb_channels;
    info.duration = dec.duration();
    info.codec = c->codec->name;
    if (info.sample_rate <= 0) dec.fail("the audio stream has no sample rate");
  }
  ~Impl() { swr_free(&swr); }

  // A resampler from the format of `f` to mono float at `rate` (rebuilt if the input changes).
  void prepare(const AVFrame* f, int64_t rate) {
    if (swr && f->format == in_format && f->sample_rate == in_rate && f->ch_layout.nb_channels == in_channels &&
        rate == out_rate)
      return;
    swr_free(&swr);
    AVChannelLayout in_layout;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels <= 0)
      av_channel_layout_default(&in_layout, std::max(1, f->ch_layout.nb_channels));
    else
      av_channel_layout_copy(&in_layout, &f->ch_layout);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    const int r = swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, static_cast<int>(rate), &in_layout,
                                      static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
    av_channel_layout_uninit(&in_layout);
    const int init = r < 0 ? r : swr_init(swr);
    if (init < 0) dec.fail("cannot resample its audio: " + av_message(init));
    in_format = f->format;
    in_rate = f->sample_rate;
    in_channels = f->ch_layout.nb_channels;
    out_rate = rate;
  }

  void convert(const uint8_t** in, int in_samples, std::vector<float>& out) {
    const int room = swr_get_out_samples(swr, in_samples);
    if (room <= 0) return;
    const size_t old = out.size();
    out.resize(old + static_cast<size_t>(room));
    uint8_t* dst = reinterpret_cast<uint8_t*>(out.data() + old);
    const int got = swr_convert(swr, &dst, room, in, in_samples);
    if (got < 0) dec.fail("resampling failed: " + av_message(got));
    out.resize(old + static_cast<size_t>(got));
  }

  StreamDecoder dec;
  AudioInfo info;
  SwrContext* swr = nullptr;
  int in_format = -1, in_rate = 0, in_channels = 0;
  int64_t out_rate = 0;
};

AudioReader::AudioReader(const std::string& path) : impl_(std::make_unique<Impl>(path)) {}
AudioReader::~AudioReader() = default;
const AudioInfo& AudioReader::info() const { return impl_->info; }

Audio AudioReader::read(const AudioSpec& spec) {
  Impl& m = *impl_;
  if (spec.sample_rate <= 0) m.dec.fail("the sample rate must be positive");
  const double start = std::max(0.0, spec.start);
  const int64_t wanted = spec.duration > 0 ? std::llround(spec.duration * static_cast<double>(spec.sample_rate)) : -1;
  m.dec.seek(start);
  swr_free(&m.swr);  // no samples of an earlier read left inside

  std::vector<float> samples;
  double first = -1;  // the time of the first decoded sample
  Audio audio;
  audio.corrupt_packets = m.dec.decode(
      [&](const AVFrame* f, double t) {
        if (first < 0) first = t;
        m.prepare(f, spec.sample_rate);
        m.convert(const_cast<const uint8_t**>(f->extended_data), f->nb_samples, samples);
        // Enough once the window is covered (with the offset of the first sample before the start).
        if (wanted < 0) return true;
        const double offset = (start - first) * static_cast<double>(spec.sample_rate);
        return static_cast<double>(samples.size()) < offset + static_cast<double>(wanted) + 1;
      },
      deadline_after(spec.time_budget_s));
  if (m.swr) m.convert(nullptr, 0, samples);  // the resampler's tail
  if (first < 0) m.dec.fail("no audio decoded");

  const int64_t skip = std::max<int64_t>(0, std::llround((start - first) * static_cast<double>(spec.sample_rate)));
  const int64_t have = std::max<int64_t>(0, static_cast<int64_t>(samples.size()) - skip);
  const int64_t n = wanted >= 0 ? wanted : have;
  audio.wave = at::zeros({n}, at::kFloat);
  const int64_t copy = std::min(n, have);
  if (copy > 0) std::copy(samples.begin() + skip, samples.begin() + skip + copy, audio.wave.data_ptr<float>());
  audio.padded = n - copy;
  return audio;
}

}  // namespace mmcl::media

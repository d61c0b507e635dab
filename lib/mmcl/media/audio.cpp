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
    if (r < 0 || swr_init(swr) < 0) dec.fail("cannot resample its audio: " + av_message(r));
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

at::Tensor mel_filters(int64_t sample_rate, const MelSpec& spec) {
  const int64_t bins = spec.n_fft / 2 + 1;
  const double f_max = spec.f_max > 0 ? spec.f_max : static_cast<double>(sample_rate) / 2;
  auto to_mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  auto to_hz = [](double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); };
  const double lo = to_mel(spec.f_min), hi = to_mel(f_max);
  std::vector<double> edges(static_cast<size_t>(spec.mels + 2));
  for (size_t i = 0; i < edges.size(); ++i)
    edges[i] = to_hz(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(spec.mels + 1));
  at::Tensor fb = at::zeros({spec.mels, bins}, at::kFloat);
  auto a = fb.accessor<float, 2>();
  for (int64_t m = 0; m < spec.mels; ++m)
    for (int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * sample_rate / static_cast<double>(spec.n_fft);
      const double l = edges[m], c = edges[m + 1], r = edges[m + 2];
      double w = 0;
      if (f > l && f <= c) w = (f - l) / (c - l);
      else if (f > c && f < r) w = (r - f) / (r - c);
      a[m][k] = static_cast<float>(w);
    }
  return fb;
}

at::Tensor log_mel_spectrogram(const at::Tensor& wave, int64_t sample_rate, const MelSpec& spec) {
  MMCL_CHECK(wave.dim() == 1, "log_mel_spectrogram: expected a waveform [N], got ", wave.sizes());
  const at::Tensor x = wave.to(at::kFloat);
  const at::Tensor window = at::hann_window(spec.n_fft, at::kFloat);
  // Centred frames: reflect-pad n_fft / 2 on both sides (torch.stft's center=True).
  const int64_t pad = spec.n_fft / 2;
  MMCL_CHECK(x.size(0) > pad, "log_mel_spectrogram: ", x.size(0), " samples, fewer than n_fft / 2 + 1");
  const at::Tensor padded = at::reflection_pad1d(x.view({1, 1, -1}), {pad, pad}).view({-1});
  const at::Tensor spec_c = at::stft(padded, spec.n_fft, spec.hop, spec.n_fft, window, /*normalized=*/false,
                                     /*onesided=*/true, /*return_complex=*/true);
  const at::Tensor power = at::abs(spec_c).pow(2);  // [bins, frames]
  return at::log(at::matmul(mel_filters(sample_rate, spec), power) + 1e-6);
}

}  // namespace mmcl::media

// What media/ computes without FFmpeg: frame sizes, frames to float, log-mel spectrograms. Built in
// every configuration (the decoders are left out when MMCL_WITH_FFMPEG is OFF).
#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "mmcl/media/audio.h"
#include "mmcl/media/video.h"

namespace mmcl::media {

std::pair<int64_t, int64_t> scaled_size(int64_t w, int64_t h, int64_t short_side) {
  if (short_side <= 0 || w <= 0 || h <= 0) return {w, h};
  if (w <= h) return {short_side, std::max<int64_t>(1, std::llround(static_cast<double>(h) * short_side / w))};
  return {std::max<int64_t>(1, std::llround(static_cast<double>(w) * short_side / h)), short_side};
}

std::optional<std::string> frame_size_problem(int64_t w, int64_t h, int64_t ow, int64_t oh) {
  constexpr int64_t kMaxAspect = 16, kMaxScaledPixels = int64_t{4096} * 4096;
  if (std::max(w, h) > kMaxAspect * std::min(w, h))
    return str_cat("frames of ", w, " x ", h, " pixels: an aspect ratio beyond ", kMaxAspect, ":1");
  if (ow > kMaxScaledPixels / std::max<int64_t>(oh, 1))
    return str_cat("frames of ", w, " x ", h, " pixels scale to ", ow, " x ", oh, ", over ", kMaxScaledPixels, " pixels");
  return std::nullopt;
}

at::Tensor Clip::to_float() const { return rgb.permute({0, 3, 1, 2}).to(at::kFloat).div_(255.0); }

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

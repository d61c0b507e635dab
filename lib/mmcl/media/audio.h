#pragma once
// Audio through FFmpeg (libavformat, libavcodec, libswresample): the best audio stream of any file
// FFmpeg reads (WAV, MP4/AAC, ...), resampled to mono float at a chosen rate, from a start time for a
// duration. And the log-mel spectrogram of a waveform.

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

#include "mmcl/media/video.h"  // DecodeError

namespace mmcl::media {

struct AudioInfo {
  int64_t sample_rate = 0;  // of the file
  int64_t channels = 0;
  double duration = 0;      // seconds (0 if unknown)
  std::string codec;
};

struct AudioSpec {
  double start = 0;           // seconds
  double duration = 0;        // seconds; 0: to the end
  int64_t sample_rate = 16000;
  double time_budget_s = 10;
};

struct Audio {
  at::Tensor wave;            // float [N], mono, in [-1, 1]
  int64_t padded = 0;         // zeros appended because the stream ended before start + duration
  int64_t corrupt_packets = 0;
};

class AudioReader {
 public:
  explicit AudioReader(const std::string& path);
  ~AudioReader();
  AudioReader(const AudioReader&) = delete;
  AudioReader& operator=(const AudioReader&) = delete;

  const AudioInfo& info() const;
  // With a duration, exactly round(duration x rate) samples (zero-padded past the end).
  Audio read(const AudioSpec& spec);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct MelSpec {
  int64_t n_fft = 400;        // 25 ms at 16 kHz
  int64_t hop = 160;          // 10 ms
  int64_t mels = 80;
  double f_min = 0;
  double f_max = 0;           // 0: half the sample rate
};

// HTK-scale triangular filters [mels, n_fft / 2 + 1] over the FFT bins of `sample_rate`.
at::Tensor mel_filters(int64_t sample_rate, const MelSpec& spec);
// log(mel power + 1e-6) of `wave` [N]: [mels, frames], Hann window, centred frames (reflect padding).
at::Tensor log_mel_spectrogram(const at::Tensor& wave, int64_t sample_rate, const MelSpec& spec = {});

}  // namespace mmcl::media

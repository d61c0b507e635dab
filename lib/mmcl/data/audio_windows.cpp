#include "mmcl/data/audio_windows.h"

#include <algorithm>
#include <random>

#include <ATen/ATen.h>

#include "mmcl/data/readers.h"
#include "mmcl/media/audio.h"

namespace mmcl::data {

AudioDataset::AudioDataset(Manifest manifest, AudioTransform transform)
    : manifest_(std::move(manifest)), transform_(transform) {}

Sample AudioDataset::get(int64_t index, uint64_t seed) const {
  const Record& r = manifest_.records.at(static_cast<size_t>(index));
  const AudioTransform& t = transform_;
  try {
    media::AudioReader& reader = detail::reader_for<media::AudioReader>(r.image);
    const double window = static_cast<double>(t.samples) / static_cast<double>(t.rate);
    const double from = r.start >= 0 ? r.start : 0.0;
    const double duration = reader.info().duration;
    const double to = r.end >= 0 && (duration <= 0 || r.end < duration) ? r.end : duration;
    const double slack = std::max(0.0, to - from - window);
    std::mt19937_64 rng(seed);
    media::AudioSpec spec;
    spec.duration = window;
    spec.sample_rate = t.rate;
    spec.time_budget_s = t.time_budget_s;
    const std::vector<double> starts = t.train ? std::vector<double>{slack > 0 ? std::uniform_real_distribution<double>(0, slack)(rng) : 0.0}
                                               : evenly_spaced(slack, t.windows);
    std::vector<at::Tensor> waves;
    for (double start : starts) {
      spec.start = from + start;
      at::Tensor wave = reader.read(spec).wave;
      if (wave.size(0) > t.samples) wave = wave.slice(0, 0, t.samples);
      if (wave.size(0) < t.samples) wave = at::constant_pad_nd(wave, {0, t.samples - wave.size(0)});
      waves.push_back(wave);
    }
    Sample s;
    s.audio = !t.train && t.windows > 1 ? at::stack(waves) : waves.front();
    s.label = r.label;
    return s;
  } catch (const media::DecodeError& e) {
    throw SampleError(e.what());
  }
}

}  // namespace mmcl::data

#pragma once
// Audio datasets: a fixed-length mono waveform from each file of a manifest (audio files, or the
// soundtracks of videos), resampled with FFmpeg; for VATT's audio tower in linear-probe and finetune.

#include <cstdint>

#include "mmcl/data/dataset.h"
#include "mmcl/data/manifest.h"

namespace mmcl::data {

struct AudioTransform {
  int64_t samples = 16000;  // window length
  int64_t rate = 16000;     // Hz
  bool train = false;       // a random window; else the centre one
  int64_t windows = 1;      // evaluation: this many windows evenly spread over the file, [windows, samples]
  double time_budget_s = 10;
};

// Sample.audio is [samples] float ([windows, samples] for several evaluation windows); a recording shorter than the window is zero-padded at the end.
// An unreadable file, or one without an audio stream, is a SampleError (skipped and counted).
class AudioDataset : public Dataset {
 public:
  AudioDataset(Manifest manifest, AudioTransform transform);
  int64_t size() const override { return static_cast<int64_t>(manifest_.records.size()); }
  Sample get(int64_t index, uint64_t seed) const override;
  std::string describe(int64_t index) const override { return manifest_.records.at(static_cast<size_t>(index)).image; }

 private:
  Manifest manifest_;
  AudioTransform transform_;
};

}  // namespace mmcl::data

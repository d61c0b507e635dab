#pragma once
// Video datasets: clips decoded with media::VideoReader from a manifest's files, augmented as CVRL
// does. A sample holds one clip [T, 3, S, S] or, for CVRL pretraining, two views [2, T, 3, S, S] of
// the same video at two times drawn by temporal interval sampling. For VATT it also holds the
// soundtrack from the clip's first frame on (mono waveform [audio_samples]) and up to max_captions
// tokenised captions [K, context] (rows of zeros where a sample has fewer).

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include <ATen/core/Tensor.h>

#include "mmcl/config/config.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/manifest.h"

namespace mmcl::data {

// CVRL's temporal interval sampling over a video whose two clips can start up to `c` seconds apart:
// the interval t in [0, c] follows P(t) = 2(c - t)/c^2 (decreasing), 1/c (uniform), 2t/c^2 (increasing)
// or is 0 (none); the first clip starts uniformly in [0, c - t], the second t later. Returns the starts.
std::array<double, 2> sample_clip_starts(double c, ClipInterval interval, std::mt19937_64& rng);

struct VideoTransform {
  int64_t frames = 16, size = 112, stride = 2;
  bool train = false;          // random start and augmentation; else the centre clip, centre crop
  int64_t views = 1;
  // Evaluation (train false, views 1): clips evenly spread over the video x spatial crops (1: centre;
  // 3: both ends and the centre of the longer side), [clips * crops, T, 3, S, S] when more than one.
  int64_t clips = 1, crops = 1;
  int64_t audio_samples = 0;   // > 0: read this many waveform samples at audio_rate
  int64_t audio_rate = 16000;
  std::shared_ptr<const text::Tokenizer> tokenizer;  // set: tokenise the record's captions
  int64_t context_length = 77;
  int64_t max_captions = 1;
  config::VideoDataConfig video;
  std::array<double, 3> mean = {0.45, 0.45, 0.45};
  std::array<double, 3> std = {0.225, 0.225, 0.225};
};

// One clip's augmentation: float [T, 3, H, W] in [0, 1] -> [T, 3, size, size], normalised. With
// `video.consistent` every frame gets the same crop, flip and colour changes; otherwise each frame
// draws its own. Without `video.spatial` (or at evaluation): a centre crop. `view` (0 or 1) picks the
// blur and solarisation probabilities of a sample's first or second view.
at::Tensor augment_clip(const at::Tensor& clip, const VideoTransform& t, bool train, std::mt19937_64& rng, int view = 0);
// Evaluation crop `index` of `crops` (1 or 3) of a clip [T, 3, H, W]: the largest square, at the centre
// for one crop, else at the start, centre and end (index 0, 1, 2) of the longer side; scaled to t.size
// and normalised.
at::Tensor crop_clip(const at::Tensor& clip, const VideoTransform& t, int64_t index, int64_t crops);

class VideoDataset : public Dataset {
 public:
  VideoDataset(Manifest manifest, VideoTransform transform);
  int64_t size() const override { return static_cast<int64_t>(manifest_.records.size()); }
  Sample get(int64_t index, uint64_t seed) const override;
  std::string describe(int64_t index) const override;
  const Manifest& manifest() const { return manifest_; }

 private:
  Manifest manifest_;
  VideoTransform transform_;
};

// The transform data.video and data.image (normalisation) ask for, at the spec's clip size.
VideoTransform video_transform(const config::DataConfig& config, const InputSpec& spec, bool train);

}  // namespace mmcl::data

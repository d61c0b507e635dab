#include "mmcl/data/video_clips.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "mmcl/data/augment.h"
#include "mmcl/data/image.h"
#include "mmcl/data/readers.h"
#include "mmcl/media/audio.h"
#include "mmcl/media/video.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::data {
namespace {

// Up to `k` of the non-empty captions (a random choice of them when training and there are more),
// tokenised: [k, context], rows of zeros for the missing ones.
at::Tensor caption_ids(const std::vector<std::string>& captions, const VideoTransform& t, std::mt19937_64& rng) {
  std::vector<size_t> order;
  for (size_t i = 0; i < captions.size(); ++i)
    if (!captions[i].empty()) order.push_back(i);
  if (t.train && static_cast<int64_t>(order.size()) > t.max_captions) std::shuffle(order.begin(), order.end(), rng);
  at::Tensor ids = at::zeros({t.max_captions, t.context_length}, at::kLong);
  for (int64_t k = 0; k < t.max_captions && k < static_cast<int64_t>(order.size()); ++k) {
    const std::vector<int64_t> row = t.tokenizer->tokenize(captions[order[static_cast<size_t>(k)]], t.context_length);
    ids[k].copy_(at::tensor(row, at::kLong));
  }
  return ids;
}

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return hi > lo ? std::uniform_real_distribution<double>(lo, hi)(rng) : lo;
}

struct SpatialParams {
  std::array<int64_t, 4> box;  // top, left, height, width
  bool flip = false;
  ColourDraw colour;
};

SpatialParams draw(int64_t h, int64_t w, const VideoTransform& t, std::mt19937_64& rng, int view) {
  ImageTransform crop;
  crop.scale = t.video.crop_scale;
  crop.ratio = t.video.crop_ratio;
  SpatialParams p;
  p.box = random_resized_crop_box(h, w, crop, rng);
  p.flip = std::uniform_real_distribution<double>(0, 1)(rng) < 0.5;
  const double s = t.video.jitter_strength;
  const bool second = view == 1;
  ColourAugment a;
  a.jitter_prob = t.video.jitter_prob;
  a.jitter = {0.4 * s, 0.4 * s, 0.4 * s, 0.1 * s};
  a.random_order = t.video.jitter_random_order;
  a.grayscale_prob = t.video.grayscale_prob;
  a.blur_prob = second && t.video.blur_prob_view2 >= 0 ? t.video.blur_prob_view2 : t.video.blur_prob;
  a.solarize_prob = second && t.video.solarize_prob_view2 >= 0 ? t.video.solarize_prob_view2 : t.video.solarize_prob;
  p.colour = draw_colour(a, rng);
  return p;
}

// Applies `p` to frames [N, 3, H, W] in [0, 1]: -> [N, 3, size, size].
at::Tensor apply(const at::Tensor& frames, const SpatialParams& p, int64_t size) {
  const auto& b = p.box;
  at::Tensor x = frames.slice(2, b[0], b[0] + b[2]).slice(3, b[1], b[1] + b[3]);
  x = at::upsample_bilinear2d(x, {size, size}, /*align_corners=*/false);
  if (p.flip) x = x.flip({3});
  return apply_colour(x, p.colour);
}

}  // namespace

std::array<double, 2> sample_clip_starts(double c, ClipInterval interval, std::mt19937_64& rng) {
  c = std::max(0.0, c);
  const double u = uniform(rng, 0, 1);
  double t = 0;
  switch (interval) {
    case ClipInterval::decreasing: t = c * (1 - std::sqrt(1 - u)); break;  // inverse CDF of 2(c - t)/c^2
    case ClipInterval::increasing: t = c * std::sqrt(u); break;            // of 2t/c^2
    case ClipInterval::uniform: t = c * u; break;
    case ClipInterval::none: break;
  }
  const double first = uniform(rng, 0, c - t);
  return {first, first + t};
}

at::Tensor crop_clip(const at::Tensor& clip, const VideoTransform& t, int64_t index, int64_t crops) {
  const int64_t h = clip.size(2), w = clip.size(3), side = std::min(h, w);
  // The square's offset along each side's free extent: its middle for one crop, else index / (crops - 1)
  // of the way (start, centre, end for three).
  const auto offset = [&](int64_t extent) {
    if (crops <= 1) return extent / 2;
    return static_cast<int64_t>(std::llround(static_cast<double>(extent * index) / static_cast<double>(crops - 1)));
  };
  SpatialParams p;
  p.box = {offset(h - side), offset(w - side), side, side};
  return normalise(apply(clip, p, t.size), t.mean, t.std);
}

at::Tensor augment_clip(const at::Tensor& clip, const VideoTransform& t, bool train, std::mt19937_64& rng, int view) {
  const int64_t h = clip.size(2), w = clip.size(3);
  at::Tensor out;
  if (!train || !t.video.spatial) {
    return crop_clip(clip, t, 0, 1);
  } else if (t.video.consistent) {
    out = apply(clip, draw(h, w, t, rng, view), t.size);
  } else {
    std::vector<at::Tensor> frames;
    for (int64_t i = 0; i < clip.size(0); ++i)
      frames.push_back(apply(clip.slice(0, i, i + 1), draw(h, w, t, rng, view), t.size));
    out = at::cat(frames, 0);
  }
  return normalise(out, t.mean, t.std);
}

VideoDataset::VideoDataset(Manifest manifest, VideoTransform transform)
    : manifest_(std::move(manifest)), transform_(std::move(transform)) {}

std::string VideoDataset::describe(int64_t index) const { return manifest_.records.at(static_cast<size_t>(index)).image; }

Sample VideoDataset::get(int64_t index, uint64_t seed) const {
  const Record& r = manifest_.records.at(static_cast<size_t>(index));
  std::mt19937_64 rng(seed);
  const VideoTransform& t = transform_;
  try {
    media::VideoReader& reader = detail::reader_for<media::VideoReader>(r.image);
    const media::VideoInfo& info = reader.info();
    const double fps = info.fps > 0 ? info.fps : 25.0;
    // The seconds a clip spans: frames at data.video.fps, or every stride-th frame at the file's rate.
    const double span = t.video.fps > 0 ? static_cast<double>(t.frames) / t.video.fps
                                        : static_cast<double>(t.frames * t.stride) / fps;
    // The manifest's window (start/end columns), else the whole video.
    const double from = r.start >= 0 ? r.start : 0.0;
    const double to = r.end >= 0 && (info.duration <= 0 || r.end < info.duration) ? r.end : info.duration;
    const double c = std::max(0.0, to - from - span);
    std::vector<double> starts;
    // Evaluation views: clips x crops of one video.
    const bool multiview = !t.train && t.views == 1 && t.clips * t.crops > 1;
    if (t.views == 2) {
      const auto s = sample_clip_starts(c, t.train ? t.video.interval : ClipInterval::none, rng);
      starts = {s[0], s[1]};
    } else if (multiview) {
      starts = evenly_spaced(c, t.clips);
    } else {
      starts = {t.train ? uniform(rng, 0, c) : c / 2};
    }
    media::ClipSpec spec;
    spec.frames = t.frames;
    spec.stride = t.stride;
    spec.fps = t.video.fps;
    // Decoded larger than the output when asked, so that the random crop is taken from the frame's
    // detail before scaling (CVRL's way), not from frames already scaled to the output.
    spec.short_side = t.video.decode_size > 0 ? std::max(t.video.decode_size, t.size) : t.size;
    spec.time_budget_s = t.video.time_budget_s;
    std::vector<at::Tensor> views;
    double first_frame = 0;
    for (double start : starts) {
      spec.start = from + start;
      const media::Clip clip = reader.read(spec);
      if (views.empty()) first_frame = clip.times.front();
      if (multiview) {
        const at::Tensor frames = clip.to_float();
        for (int64_t k = 0; k < t.crops; ++k) views.push_back(crop_clip(frames, t, k, t.crops));
      } else {
        views.push_back(augment_clip(clip.to_float(), t, t.train, rng, static_cast<int>(views.size())));
      }
    }
    Sample s;
    if (t.audio_samples > 0) {
      // The soundtrack from the first frame of the (first) clip: a fixed number of samples, zero-padded
      // where the stream ends first.
      media::AudioSpec a;
      a.start = first_frame;
      a.sample_rate = t.audio_rate;
      a.duration = static_cast<double>(t.audio_samples) / static_cast<double>(t.audio_rate);
      a.time_budget_s = t.video.time_budget_s;
      at::Tensor wave = detail::reader_for<media::AudioReader>(r.image).read(a).wave;
      const int64_t n = t.audio_samples;
      if (wave.size(0) > n) wave = wave.slice(0, 0, n);
      if (wave.size(0) < n) wave = at::constant_pad_nd(wave, {0, n - wave.size(0)});
      if (t.train && t.video.audio_noise > 0) {  // VATT's audio augmentation, drawn from the sample's seed
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(rng());
        wave = wave + at::normal(0.0, t.video.audio_noise, wave.sizes(), gen, wave.options());
      }
      s.audio = wave;
    }
    if (t.tokenizer) s.text = caption_ids(r.captions, t, rng);
    s.video = views.size() > 1 ? at::stack(views) : views.front();
    s.label = r.label;
    return s;
  } catch (const media::DecodeError& e) {
    throw SampleError(e.what());
  }
}

VideoTransform video_transform(const config::DataConfig& c, const InputSpec& spec, bool train) {
  VideoTransform t;
  t.frames = spec.video_frames;
  t.size = spec.video_size;
  t.stride = c.video.stride;
  t.train = train;
  t.views = spec.video_views;
  t.audio_samples = spec.audio_samples;
  t.audio_rate = spec.audio_rate;
  t.tokenizer = spec.tokenizer;
  t.context_length = spec.context_length;
  t.max_captions = c.max_captions;
  t.video = c.video;
  t.mean = c.image.mean;
  t.std = c.image.std;
  return t;
}

}  // namespace mmcl::data

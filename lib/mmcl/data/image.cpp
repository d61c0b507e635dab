#include "mmcl/data/image.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "mmcl/data/dataset.h"
#include "mmcl/data/resample.h"
#include "mmcl/media/image.h"

namespace mmcl::data {

at::Tensor decode_sample_image(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  try {
    return media::decode_image(bytes, name, max_pixels);
  } catch (const media::DecodeError& e) {
    throw SampleError(e.what());
  }
}

at::Tensor read_sample_image(const std::string& path, int64_t max_pixels) {
  try {
    return media::read_image(path, max_pixels);
  } catch (const media::DecodeError& e) {
    throw SampleError(e.what());
  }
}

std::array<int64_t, 4> random_resized_crop_box(int64_t h, int64_t w, const ImageTransform& t, std::mt19937_64& rng) {
  const double area = static_cast<double>(h * w);
  std::uniform_real_distribution<double> scale(t.scale[0], t.scale[1]);
  std::uniform_real_distribution<double> log_ratio(std::log(t.ratio[0]), std::log(t.ratio[1]));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * scale(rng);
    const double aspect = std::exp(log_ratio(rng));
    const auto cw = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
    const auto ch = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, h - ch)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, w - cw)(rng);
      return {top, left, ch, cw};
    }
  }
  // Fallback: the largest centre crop within the ratio range.
  const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (in_ratio < t.ratio[0]) ch = std::lround(static_cast<double>(w) / t.ratio[0]);
  else if (in_ratio > t.ratio[1]) cw = std::lround(static_cast<double>(h) * t.ratio[1]);
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

at::Tensor transform_image(const at::Tensor& image, const ImageTransform& t, std::mt19937_64& rng) {
  const int64_t h = image.size(0), w = image.size(1);
  ResampleSpec spec;
  spec.mean = t.mean;
  spec.std = t.std;
  spec.window_h = spec.window_w = t.size;
  if (t.train) {
    spec.box = random_resized_crop_box(h, w, t, rng);
    spec.out_h = spec.out_w = t.size;
    spec.flip = t.flip && std::uniform_int_distribution<int>(0, 1)(rng) == 1;
  } else {
    // open_clip's evaluation preprocess, to the pixel: torchvision's Resize(size) makes the shorter
    // side `size` and the longer int(size * long / short); CenterCrop starts at round((n - size) / 2)
    // with Python's round (halves to even).
    const int64_t shorter = std::min(h, w), longer = std::max(h, w);
    const int64_t resized_long = std::max<int64_t>(t.size, t.size * longer / shorter);
    spec.box = {0, 0, h, w};
    spec.out_h = h <= w ? t.size : resized_long;
    spec.out_w = h <= w ? (w == h ? t.size : resized_long) : t.size;
    auto centre = [](int64_t excess) {
      const int64_t half = excess / 2;
      return (excess % 2 == 1 && half % 2 == 1) ? half + 1 : half;  // round-half-even of excess / 2
    };
    spec.window = {centre(spec.out_h - t.size), centre(spec.out_w - t.size)};
  }
  return resample_normalise(image.contiguous(), spec);
}

}  // namespace mmcl::data

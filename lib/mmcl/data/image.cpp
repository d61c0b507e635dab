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

namespace {

// RandomResizedCrop (+ flip) of an h x w image to t.size, normalised: the box and flip drawn from rng
// in that order.
ResampleSpec train_spec(int64_t h, int64_t w, const ImageTransform& t, std::mt19937_64& rng) {
  ResampleSpec spec;
  spec.mean = t.mean;
  spec.std = t.std;
  spec.window_h = spec.window_w = spec.out_h = spec.out_w = t.size;
  spec.box = random_resized_crop_box(h, w, t, rng);
  spec.flip = t.flip && std::uniform_int_distribution<int>(0, 1)(rng) == 1;
  return spec;
}

// Resamples with `spec` and, when `t.colour` draws a change, adjusts the colours of the [0, 1] pixels
// before normalising (one pass when nothing changes).
at::Tensor resample_augment(const at::Tensor& image, ResampleSpec spec, const ImageTransform& t, std::mt19937_64& rng) {
  if (!t.colour.any()) return resample_normalise(image, spec);
  const ColourDraw draw = draw_colour(t.colour, rng);
  if (!draw.any()) return resample_normalise(image, spec);
  spec.mean = {0, 0, 0};
  spec.std = {1, 1, 1};
  return normalise(apply_colour(resample_normalise(image, spec).unsqueeze(0), draw).squeeze(0), t.mean, t.std);
}

}  // namespace

int reduced_decode_eighths(int64_t crop_h, int64_t crop_w, int64_t size) {
  // The smallest M with ceil-free floor(side * M / 8) >= size on both sides (the crop box is mapped with
  // floor below, so this keeps every output pixel a downscale).
  for (int m = 1; m < 8; ++m)
    if (crop_h * m / 8 >= size && crop_w * m / 8 >= size) return m;
  return 8;
}

at::Tensor transform_image_bytes(const std::string& bytes, const std::string& name, const ImageTransform& t,
                                 std::mt19937_64& rng) {
  if (t.train && t.reduced_decode && media::can_decode_reduced(bytes)) {
    if (const auto size = media::image_size(bytes)) {
      const auto [w, h] = *size;
      if (w > 0 && h > 0 && w <= t.max_pixels / h) {
        ResampleSpec spec = train_spec(h, w, t, rng);
        const std::array<int64_t, 4> box = spec.box;
        const int eighths = reduced_decode_eighths(box[2], box[3], t.size);
        at::Tensor image;
        try {
          image = media::decode_image_reduced(bytes, name, t.max_pixels, eighths);
        } catch (const media::DecodeError& e) {
          throw SampleError(e.what());
        }
        // The crop in the decoded image's pixels: the same fraction of it (a reduced decode may have
        // fallen back to full size).
        const int64_t dh = image.size(0), dw = image.size(1);
        auto map = [](int64_t v, int64_t from, int64_t to) { return v * to / from; };
        const int64_t top = map(box[0], h, dh), left = map(box[1], w, dw);
        const int64_t bottom = std::max(top + 1, std::min(dh, map(box[0] + box[2], h, dh)));
        const int64_t right = std::max(left + 1, std::min(dw, map(box[1] + box[3], w, dw)));
        spec.box = {top, left, bottom - top, right - left};
        return resample_augment(image.contiguous(), spec, t, rng);
      }
    }
  }
  return transform_image(decode_sample_image(bytes, name, t.max_pixels), t, rng);
}

at::Tensor transform_image(const at::Tensor& image, const ImageTransform& t, std::mt19937_64& rng) {
  const int64_t h = image.size(0), w = image.size(1);
  if (t.train) {
    const ResampleSpec spec = train_spec(h, w, t, rng);
    return resample_augment(image.contiguous(), spec, t, rng);
  }
  ResampleSpec spec;
  spec.mean = t.mean;
  spec.std = t.std;
  spec.window_h = spec.window_w = t.size;
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
  return resample_normalise(image.contiguous(), spec);
}

}  // namespace mmcl::data

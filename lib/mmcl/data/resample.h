#pragma once
// Image resampling for the input pipeline, straight from decoded uint8 pixels to the model's
// normalised float input: crop, antialiased bicubic resize (the filter of PIL's BICUBIC, which
// open_clip's preprocessing uses, and of ATen's _upsample_bicubic2d_aa), optional horizontal flip, and
// (x / 255 - mean) / std, in two separable passes without intermediate tensors.

#include <array>
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace mmcl::data {

struct ResampleSpec {
  std::array<int64_t, 4> box{};     // {top, left, height, width}: the source region, resized to out_h x out_w
  int64_t out_h = 0, out_w = 0;     // size of the resized region
  std::array<int64_t, 2> window{};  // {top, left} of the part of the resized region that is returned
  int64_t window_h = 0, window_w = 0;
  bool flip = false;                // mirror the result left-right
  std::array<double, 3> mean{}, std{1.0, 1.0, 1.0};  // of x / 255
};

// `image`: uint8 [H, W, 3], contiguous. Returns float [3, window_h, window_w].
at::Tensor resample_normalise(const at::Tensor& image, const ResampleSpec& spec);

}  // namespace mmcl::data

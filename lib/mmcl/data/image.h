#pragma once
// The CLIP image transforms (decoding is media/image.h).

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include <ATen/core/Tensor.h>

#include "mmcl/data/augment.h"

namespace mmcl::data {

// media::decode_image and media::read_image for datasets: a file that cannot be decoded is a
// SampleError (skipped and counted by the loader).
at::Tensor decode_sample_image(const std::string& bytes, const std::string& name, int64_t max_pixels);
at::Tensor read_sample_image(const std::string& path, int64_t max_pixels);

struct ImageTransform {
  int64_t size = 224;                 // output side
  bool train = false;                 // RandomResizedCrop (+ flip) when true, else resize + centre crop
  std::array<double, 2> scale = {0.9, 1.0};            // RandomResizedCrop area fraction
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};  // RandomResizedCrop aspect ratio range
  bool flip = false;                  // random horizontal flip (train only)
  std::array<double, 3> mean = {0.48145466, 0.4578275, 0.40821073};  // CLIP's
  std::array<double, 3> std = {0.26862954, 0.26130258, 0.27577711};
  int64_t max_pixels = 100'000'000;   // data.image.max_pixels: larger images are refused before decoding
  bool reduced_decode = false;        // data.image.reduced_decode (train only): see transform_image_bytes
  ColourAugment colour;               // train only, after the crop (data.image.jitter_prob ...)
};

// uint8 [H, W, 3] -> normalised float [3, size, size]. Resizing is bicubic with antialiasing (as PIL's
// bicubic, which open_clip's preprocessing uses). `rng` drives the random crop and flip, then the colour
// augmentation (drawn only when `colour` has a non-zero probability). Crop, resize, flip and
// normalisation are one pass over the pixels; an image whose draw changes its colours is resampled to
// [0, 1] instead, adjusted at the output size (augment.h) and normalised after.
at::Tensor transform_image(const at::Tensor& image, const ImageTransform& transform, std::mt19937_64& rng);

// An image file's bytes -> normalised float [3, size, size], as transform_image of the decoded image.
// With `reduced_decode` at training, a JPEG is decoded at the smallest scale M/8 at which the random
// crop (drawn from the header's size, so the random numbers are those transform_image draws) still has
// at least `size` pixels a side, and the crop taken from that: libjpeg-turbo scales in the inverse DCT
// (a 640 x 480 photo cropped to 224 is decoded at 1/2; 1.15x the loader's images/s). The pixels differ
// from a full decode by the DCT's own low-pass in place of part of the bicubic one (a training
// augmentation, as PIL's draft mode). Name is for errors; a bad image is a SampleError.
at::Tensor transform_image_bytes(const std::string& bytes, const std::string& name, const ImageTransform& transform,
                                 std::mt19937_64& rng);
// The scale (eighths, 1..8) transform_image_bytes decodes at for a crop of crop_h x crop_w to `size`.
int reduced_decode_eighths(int64_t crop_h, int64_t crop_w, int64_t size);

// The crop RandomResizedCrop takes from an h x w image: {top, left, height, width} (torchvision's
// algorithm: 10 tries at a random area and log-uniform aspect ratio, else a centre crop).
std::array<int64_t, 4> random_resized_crop_box(int64_t h, int64_t w, const ImageTransform& t, std::mt19937_64& rng);

}  // namespace mmcl::data

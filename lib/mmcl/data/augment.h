#pragma once
// Colour augmentation of images and clips (SimCLR's, MoCo v2's, CVRL's): colour jitter (brightness,
// contrast, saturation, hue, each clipped to [0, 1] after it, in a fixed or random order), grayscale,
// Gaussian blur and solarisation, on float pixels in [0, 1]. The parameters of one image or clip are
// drawn once (draw_colour) and applied to all its frames (apply_colour).

#include <array>
#include <random>

#include <ATen/core/Tensor.h>

namespace mmcl::data {

// What to draw from. Strengths: brightness, contrast and saturation factors in [max(0, 1 - s), 1 + s],
// a hue shift in [-s, s] turns.
struct ColourAugment {
  double jitter_prob = 0;
  std::array<double, 4> jitter = {0.4, 0.4, 0.4, 0.1};
  bool random_order = true;  // torchvision's ColorJitter draws the order of the four adjustments
  double grayscale_prob = 0;
  double blur_prob = 0;
  std::array<double, 2> blur_sigma = {0.1, 2.0};
  double solarize_prob = 0;
  bool any() const { return jitter_prob > 0 || grayscale_prob > 0 || blur_prob > 0 || solarize_prob > 0; }
};

// One draw.
struct ColourDraw {
  bool jitter = false;
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;
  std::array<int, 4> order = {0, 1, 2, 3};  // brightness, contrast, saturation, hue
  bool grayscale = false, blur = false, solarize = false;
  double sigma = 1;
  bool any() const { return jitter || grayscale || blur || solarize; }
};

// Draws in this order: jitter?, its four factors, its order (when random), grayscale?, blur?, sigma,
// solarize?.
ColourDraw draw_colour(const ColourAugment& augment, std::mt19937_64& rng);

// Applies `d` to [N, 3, H, W] floats in [0, 1]. Contrast blends with the mean luma of each image,
// saturation with its luma (ITU-R 601: 0.299, 0.587, 0.114, as torchvision), hue rotates the chroma
// plane of YIQ; the blur's kernel side is max(3, H / 10 | 1) with reflected borders, applied as two 1-D passes.
at::Tensor apply_colour(at::Tensor x, const ColourDraw& d);

// (x - mean) / std per channel of [.., 3, H, W] pixels in [0, 1]; contiguous.
at::Tensor normalise(const at::Tensor& x, const std::array<double, 3>& mean, const std::array<double, 3>& std);

}  // namespace mmcl::data

#include "mmcl/data/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

namespace mmcl::data {
namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return hi > lo ? std::uniform_real_distribution<double>(lo, hi)(rng) : lo;
}
bool chance(std::mt19937_64& rng, double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < p; }

at::Tensor gray(const at::Tensor& x) {  // [.., 3, H, W] -> [.., 1, H, W] luma
  return (x.select(-3, 0) * 0.299 + x.select(-3, 1) * 0.587 + x.select(-3, 2) * 0.114).unsqueeze(-3);
}

}  // namespace

ColourDraw draw_colour(const ColourAugment& a, std::mt19937_64& rng) {
  ColourDraw d;
  d.jitter = chance(rng, a.jitter_prob);
  if (d.jitter) {
    d.brightness = uniform(rng, std::max(0.0, 1 - a.jitter[0]), 1 + a.jitter[0]);
    d.contrast = uniform(rng, std::max(0.0, 1 - a.jitter[1]), 1 + a.jitter[1]);
    d.saturation = uniform(rng, std::max(0.0, 1 - a.jitter[2]), 1 + a.jitter[2]);
    d.hue = uniform(rng, -a.jitter[3], a.jitter[3]);
    if (a.random_order)
      for (int i = 3; i > 0; --i) std::swap(d.order[static_cast<size_t>(i)], d.order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  d.grayscale = chance(rng, a.grayscale_prob);
  d.blur = chance(rng, a.blur_prob);
  d.sigma = uniform(rng, a.blur_sigma[0], a.blur_sigma[1]);
  d.solarize = chance(rng, a.solarize_prob);
  return d;
}

at::Tensor apply_colour(at::Tensor x, const ColourDraw& d) {
  if (d.jitter) {
    for (const int op : d.order) {
      if (op == 0) {
        if (d.brightness == 1) continue;
        x = x * d.brightness;
      } else if (op == 1) {
        if (d.contrast == 1) continue;
        const at::Tensor mean = gray(x).mean({-3, -2, -1}, /*keepdim=*/true);
        x = (x - mean) * d.contrast + mean;
      } else if (op == 2) {
        if (d.saturation == 1) continue;
        const at::Tensor g = gray(x);
        x = (x - g) * d.saturation + g;
      } else {
        if (d.hue == 0) continue;
        // A rotation of the chroma plane (YIQ) by hue x 2 pi.
        const double a = d.hue * 2 * M_PI, c = std::cos(a), s = std::sin(a);
        const at::Tensor to_yiq =
            at::tensor({0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312}, x.options()).view({3, 3});
        const at::Tensor rot = at::tensor({1.0, 0.0, 0.0, 0.0, c, -s, 0.0, s, c}, x.options()).view({3, 3});
        const at::Tensor m = at::matmul(at::inverse(to_yiq), at::matmul(rot, to_yiq));
        x = at::einsum("ij,njhw->nihw", {m, x});
      }
      // Clipped after each adjustment, as torchvision's and SimCLR's colour jitter (so the order matters).
      x = x.clamp(0, 1);
    }
  }
  if (d.grayscale) x = gray(x).expand({-1, 3, -1, -1}).contiguous();
  if (d.blur && x.size(-2) > 1 && x.size(-1) > 1) {
    const int64_t k = std::max<int64_t>(3, (x.size(-2) / 10) | 1);
    const at::Tensor r = at::arange(k, x.options()) - static_cast<double>(k / 2);
    at::Tensor g = at::exp(-(r * r) / (2 * d.sigma * d.sigma));
    g = g / g.sum();
    // Reflected borders need a border thinner than the image; a tiny image is padded by replication beyond.
    const int64_t h = k / 2, reflect = std::min(h, std::min(x.size(-2), x.size(-1)) - 1);
    at::Tensor padded = at::reflection_pad2d(x, {reflect, reflect, reflect, reflect});
    if (reflect < h) padded = at::replication_pad2d(padded, {h - reflect, h - reflect, h - reflect, h - reflect});
    // The Gaussian is separable: a k x 1 then a 1 x k depthwise convolution (2k taps a pixel, not k^2).
    const at::Tensor column = g.view({1, 1, k, 1}).expand({3, 1, k, 1}).contiguous();
    const at::Tensor row = g.view({1, 1, 1, k}).expand({3, 1, 1, k}).contiguous();
    const std::vector<int64_t> one{1, 1}, none{0, 0};
    x = at::conv2d(at::conv2d(padded, column, at::Tensor(), one, none, one, 3), row, at::Tensor(), one, none, one, 3);
  }
  if (d.solarize) x = at::where(x < 0.5, x, 1 - x);
  return x;
}

at::Tensor normalise(const at::Tensor& x, const std::array<double, 3>& mean, const std::array<double, 3>& std) {
  const at::Tensor m = at::tensor(std::vector<double>(mean.begin(), mean.end()), x.options()).view({3, 1, 1});
  const at::Tensor s = at::tensor(std::vector<double>(std.begin(), std.end()), x.options()).view({3, 1, 1});
  return ((x - m) / s).contiguous();
}

}  // namespace mmcl::data

#include "mmcl/data/resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"

namespace mmcl::data {
namespace {

// Keys' cubic with a = -0.5, support 2.
double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For each of `count` outputs starting at output index `first`: the first source index and the
// normalised weights of the sources it reads, when `in` samples are resized to `out`. The filter is
// widened by the scale when shrinking, which is what makes the resize antialiased.
struct Taps {
  std::vector<int64_t> start;   // [count]
  std::vector<int64_t> length;  // [count]
  std::vector<float> weights;   // [count * width]
  int64_t width = 0;
};

Taps taps(int64_t in, int64_t out, int64_t first, int64_t count) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 2.0 * filter_scale;
  Taps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.start.resize(static_cast<size_t>(count));
  t.length.resize(static_cast<size_t>(count));
  t.weights.assign(static_cast<size_t>(count * t.width), 0.0f);
  std::vector<double> w(static_cast<size_t>(t.width));
  for (int64_t i = 0; i < count; ++i) {
    const double center = (static_cast<double>(first + i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    const int64_t n = std::min(hi - lo, t.width);
    double total = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      w[static_cast<size_t>(k)] = bicubic((static_cast<double>(k + lo) - center + 0.5) / filter_scale);
      total += w[static_cast<size_t>(k)];
    }
    for (int64_t k = 0; k < n; ++k)
      t.weights[static_cast<size_t>(i * t.width + k)] =
          static_cast<float>(total != 0.0 ? w[static_cast<size_t>(k)] / total : 0.0);
    t.start[static_cast<size_t>(i)] = lo;
    t.length[static_cast<size_t>(i)] = n;
  }
  return t;
}

// dst[i] += w * row[i]: the inner loop of the vertical pass, compiled twice (AVX2 + FMA and the
// x86-64 baseline) where the compiler can, the better one picked at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=haswell", "default")))
#endif
void accumulate_row(float* dst, const uint8_t* row, float w, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += w * static_cast<float>(row[i]);
}

}  // namespace

at::Tensor resample_normalise(const at::Tensor& image, const ResampleSpec& s) {
  MMCL_CHECK(image.scalar_type() == at::kByte && image.dim() == 3 && image.size(2) == 3 && image.is_contiguous(),
             "resample_normalise: expected contiguous uint8 [H, W, 3]");
  const int64_t H = image.size(0), W = image.size(1);
  const auto [top, left, bh, bw] = s.box;
  MMCL_CHECK(top >= 0 && left >= 0 && bh > 0 && bw > 0 && top + bh <= H && left + bw <= W,
             "resample_normalise: the box lies outside the image");
  MMCL_CHECK(s.window[0] >= 0 && s.window[1] >= 0 && s.window_h > 0 && s.window_w > 0 &&
                 s.window[0] + s.window_h <= s.out_h && s.window[1] + s.window_w <= s.out_w,
             "resample_normalise: the window lies outside the resized region");
  const Taps tx = taps(bw, s.out_w, s.window[1], s.window_w);
  const Taps ty = taps(bh, s.out_h, s.window[0], s.window_h);
  const int64_t ow = s.window_w, oh = s.window_h;
  // The source columns the horizontal pass reads.
  const int64_t col_lo = tx.start.front();
  const int64_t cols = tx.start.back() + tx.length.back() - col_lo;

  // Vertical pass first: each output row is a weighted sum of whole source rows, which vectorises
  // (same weight along the row); it also leaves the horizontal pass only the output rows.
  thread_local std::vector<float> mid;
  mid.assign(static_cast<size_t>(oh * cols * 3), 0.0f);
  const uint8_t* src = image.data_ptr<uint8_t>();
  const int64_t row_len = cols * 3;
  for (int64_t y = 0; y < oh; ++y) {
    float* dst = mid.data() + y * row_len;
    const float* w = ty.weights.data() + y * ty.width;
    for (int64_t k = 0, n = ty.length[static_cast<size_t>(y)]; k < n; ++k) {
      const uint8_t* row = src + ((top + ty.start[static_cast<size_t>(y)] + k) * W + left + col_lo) * 3;
      accumulate_row(dst, row, w[k], row_len);
    }
  }

  // Horizontal pass, clamp to the pixel range, normalise, write planar (and mirrored if asked).
  at::Tensor out = at::empty({3, oh, ow}, at::kFloat);
  float* o = out.data_ptr<float>();
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = static_cast<float>(1.0 / (255.0 * s.std[static_cast<size_t>(c)]));
    shift[c] = static_cast<float>(-s.mean[static_cast<size_t>(c)] / s.std[static_cast<size_t>(c)]);
  }
  const int64_t plane = oh * ow;
  for (int64_t y = 0; y < oh; ++y) {
    const float* line = mid.data() + y * row_len;
    for (int64_t x = 0; x < ow; ++x) {
      const float* w = tx.weights.data() + x * tx.width;
      const float* p = line + (tx.start[static_cast<size_t>(x)] - col_lo) * 3;
      float c0 = 0, c1 = 0, c2 = 0;
      for (int64_t k = 0, n = tx.length[static_cast<size_t>(x)]; k < n; ++k, p += 3) {
        c0 += w[k] * p[0];
        c1 += w[k] * p[1];
        c2 += w[k] * p[2];
      }
      const int64_t at = y * ow + (s.flip ? ow - 1 - x : x);
      o[at] = std::clamp(c0, 0.0f, 255.0f) * scale[0] + shift[0];
      o[plane + at] = std::clamp(c1, 0.0f, 255.0f) * scale[1] + shift[1];
      o[2 * plane + at] = std::clamp(c2, 0.0f, 255.0f) * scale[2] + shift[2];
    }
  }
  return out;
}

}  // namespace mmcl::data

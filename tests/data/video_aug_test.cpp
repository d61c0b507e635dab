#include <cmath>
#include <random>

#include <ATen/ATen.h>

#include "mmcl/data/video_clips.h"
#include "util.h"

using namespace mmcl;

CATCH_TEST_CASE("temporal interval sampling follows its distribution and keeps both clips in the video", "[data]") {
  const double c = 3.0;
  const int n = 40000;
  // E[t]: c/3 for 2(c - t)/c^2, c/2 uniform, 2c/3 for 2t/c^2; P(t < c/2): 3/4, 1/2, 1/4.
  const std::vector<std::tuple<ClipInterval, double, double>> cases = {
      {ClipInterval::decreasing, c / 3, 0.75}, {ClipInterval::uniform, c / 2, 0.5}, {ClipInterval::increasing, 2 * c / 3, 0.25}};
  for (const auto& [name, mean, below_half] : cases) {
    CATCH_INFO(name);
    std::mt19937_64 rng(1);
    double sum = 0, below = 0, first_sum = 0;
    for (int i = 0; i < n; ++i) {
      const auto s = data::sample_clip_starts(c, name, rng);
      const double t = s[1] - s[0];
      CATCH_REQUIRE(t >= 0);
      CATCH_REQUIRE(s[0] >= 0);
      CATCH_REQUIRE(s[1] <= c + 1e-12);
      sum += t;
      below += t < c / 2 ? 1 : 0;
      first_sum += s[0] / (c - t > 0 ? c - t : 1);
    }
    CATCH_CHECK(sum / n == Approx(mean).margin(0.02));
    CATCH_CHECK(below / n == Approx(below_half).margin(0.01));
    CATCH_CHECK(first_sum / n == Approx(0.5).margin(0.01));  // the first start is uniform in [0, c - t]
  }
  std::mt19937_64 rng(2);
  const auto same = data::sample_clip_starts(c, ClipInterval::none, rng);
  CATCH_CHECK(same[0] == same[1]);
  CATCH_CHECK(data::sample_clip_starts(0, ClipInterval::decreasing, rng)[1] == 0);  // a video no longer than a clip
}

CATCH_TEST_CASE("temporally consistent augmentation treats every frame alike, inconsistent draws per frame",
                "[data]") {
  // A clip of 6 identical random frames: consistent augmentation keeps them identical.
  torch::manual_seed(0);
  const at::Tensor frame = at::rand({1, 3, 40, 50});
  const at::Tensor clip = frame.expand({6, 3, 40, 50}).contiguous();
  data::VideoTransform t;
  t.size = 24;
  t.video.jitter_prob = 1.0;
  t.video.grayscale_prob = 0.0;
  std::mt19937_64 rng(3);
  const at::Tensor out = data::augment_clip(clip, t, /*train=*/true, rng);
  CATCH_CHECK(out.sizes() == at::IntArrayRef({6, 3, 24, 24}));
  CATCH_CHECK((out - out[0].unsqueeze(0)).abs().max().item<double>() == 0.0);
  t.video.consistent = false;
  const at::Tensor each = data::augment_clip(clip, t, true, rng);
  CATCH_CHECK((each - each[0].unsqueeze(0)).abs().amax({1, 2, 3}).min().item<double>() == 0.0);  // frame 0 itself
  CATCH_CHECK((each - each[0].unsqueeze(0)).abs().amax({1, 2, 3}).slice(0, 1).min().item<double>() > 1e-3);
  // Evaluation (or spatial off): the centre square, resized, normalised, the same every time.
  t.video.consistent = true;
  std::mt19937_64 r1(5), r2(6);
  const at::Tensor e1 = data::augment_clip(clip, t, false, r1), e2 = data::augment_clip(clip, t, false, r2);
  CATCH_CHECK(at::equal(e1, e2));
  const at::Tensor centre = at::upsample_bilinear2d(clip.slice(3, 5, 45), {24, 24}, false);
  const at::Tensor mean = at::tensor({0.45, 0.45, 0.45}).view({1, 3, 1, 1}), std = at::tensor({0.225, 0.225, 0.225}).view({1, 3, 1, 1});
  CATCH_CHECK((e1 - (centre - mean) / std).abs().max().item<double>() < 1e-5);
  // Grayscale: the three channels equal (before normalisation by equal statistics).
  t.video.grayscale_prob = 1.0;
  t.video.jitter_prob = 0.0;
  const at::Tensor g = data::augment_clip(clip, t, true, rng);
  CATCH_CHECK((g.select(1, 0) - g.select(1, 1)).abs().max().item<double>() < 1e-6);
}

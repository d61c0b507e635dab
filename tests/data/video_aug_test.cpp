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

CATCH_TEST_CASE("CVRL's spatial augmentation: crop aspect ratio, jitter in a random order, blur and solarisation "
                "per view",
                "[data]") {
  // Channel 0 holds the column, channel 1 the row (/ 99): the output's ranges show the crop's width and height.
  const at::Tensor col = at::arange(100, at::kFloat).div(99).view({1, 1, 100}).expand({1, 100, 100});
  const at::Tensor row = at::arange(100, at::kFloat).div(99).view({1, 100, 1}).expand({1, 100, 100});
  const at::Tensor frame = at::cat({col, row, at::zeros({1, 100, 100})}, 0).unsqueeze(0);
  data::VideoTransform t;
  t.size = 40;
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  t.video.jitter_prob = 0;
  t.video.grayscale_prob = 0;
  t.video.crop_scale = {0.3, 0.3};
  t.video.crop_ratio = {2.0, 2.0};  // 3000 px^2 at aspect 2: 77 wide, 39 high
  std::mt19937_64 rng(1);
  for (int i = 0; i < 5; ++i) {
    const at::Tensor out = data::augment_clip(frame, t, true, rng);
    const double width = (out.select(1, 0).max() - out.select(1, 0).min()).item<double>() * 99;
    const double height = (out.select(1, 1).max() - out.select(1, 1).min()).item<double>() * 99;
    CATCH_CHECK(width > 72);
    CATCH_CHECK(width < 77);
    CATCH_CHECK(height > 35);
    CATCH_CHECK(height < 39);
  }

  // Jitter in a random order: with the same draws otherwise, the outcome differs from the fixed order
  // unless the permutation drawn is the identity (1 in 24).
  torch::manual_seed(0);
  const at::Tensor clip = at::rand({2, 3, 24, 24});
  data::VideoTransform j;
  j.size = 24;
  j.video.jitter_prob = 1.0;
  j.video.jitter_strength = 2.0;
  j.video.grayscale_prob = 0;
  int differs = 0;
  for (uint64_t seed = 0; seed < 48; ++seed) {
    std::mt19937_64 a(seed), b(seed);
    data::VideoTransform r = j;
    r.video.jitter_random_order = true;
    differs += !at::allclose(data::augment_clip(clip, j, true, a), data::augment_clip(clip, r, true, b), 1e-5, 1e-5);
  }
  CATCH_CHECK(differs >= 30);
  CATCH_CHECK(differs <= 48);

  // Blur and solarisation by view: the second view's probabilities when set, else the first's.
  data::VideoTransform v = j;
  v.video.jitter_prob = 0;
  v.video.blur_prob = 0;
  v.video.blur_prob_view2 = 1.0;
  std::mt19937_64 r0(4), r1(4), r2(4);
  const at::Tensor first = data::augment_clip(clip, v, true, r0, 0);
  const at::Tensor second = data::augment_clip(clip, v, true, r1, 1);
  CATCH_CHECK(!at::allclose(first, second, 1e-4, 1e-4));
  CATCH_CHECK(second.std().item<double>() < first.std().item<double>());  // blurred: smoother
  v.video.blur_prob_view2 = -1;  // unset: the second view as the first
  CATCH_CHECK(at::allclose(first, data::augment_clip(clip, v, true, r2, 1)));
  v.video.solarize_prob_view2 = 1.0;
  std::mt19937_64 r3(4);
  const at::Tensor solar = data::augment_clip(clip, v, true, r3, 1);
  // Solarised (before normalisation): no value above 0.5.
  const at::Tensor raw = solar * at::tensor({0.225, 0.225, 0.225}).view({1, 3, 1, 1}) + 0.45;
  CATCH_CHECK(raw.max().item<double>() <= 0.5 + 1e-5);
  CATCH_CHECK(first.mul(0.225).add(0.45).max().item<double>() > 0.6);
}

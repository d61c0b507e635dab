// Colour augmentation (data/augment.h) against closed forms, its draws' statistics, and the image
// pipeline with it: off changes nothing, on adjusts the cropped image, two views per image.

#include <cmath>
#include <random>
#include <set>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/data/augment.h"
#include "mmcl/data/image.h"
#include "mmcl/data/image_text.h"
#include "mmcl/data/manifest.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::data;
using namespace mmcl::test;

namespace {
at::Tensor luma(const at::Tensor& x) { return x[0][0] * 0.299 + x[0][1] * 0.587 + x[0][2] * 0.114; }
}  // namespace

CATCH_TEST_CASE("colour adjustments follow their closed forms", "[data]") {
  torch::manual_seed(0);
  const at::Tensor x = at::rand({1, 3, 8, 8}, at::kDouble) * 0.8 + 0.1;
  ColourDraw d;
  d.jitter = true;
  // Brightness alone: x * b, clipped.
  d.brightness = 1.3;
  CATCH_CHECK(at::allclose(apply_colour(x, d), (x * 1.3).clamp(0, 1)));
  // Contrast alone: blend with the mean luma of the image.
  d.brightness = 1;
  d.contrast = 0.5;
  const double m = luma(x).mean().item<double>();
  CATCH_CHECK(at::allclose(apply_colour(x, d), ((x - m) * 0.5 + m).clamp(0, 1)));
  // Saturation alone: blend with each pixel's luma; 0 gives grey.
  d.contrast = 1;
  d.saturation = 0;
  const at::Tensor grey = apply_colour(x, d);
  CATCH_CHECK(at::allclose(grey[0][0], luma(x)));
  CATCH_CHECK(at::allclose(grey[0][2], luma(x)));
  // Hue: a turn of 0.5 negates the chroma (I, Q) and keeps the luma; a full turn is the identity.
  d.saturation = 1;
  d.hue = 0.5;
  const at::Tensor yiq = at::tensor({0.299, 0.587, 0.114, 0.596, -0.274, -0.322, 0.211, -0.523, 0.312}, at::kDouble).view({3, 3});
  const at::Tensor half = apply_colour(x * 0.2 + 0.4, d);  // inside [0, 1] after the shift
  const at::Tensor before = at::einsum("ij,njhw->nihw", {yiq, x * 0.2 + 0.4});
  const at::Tensor after = at::einsum("ij,njhw->nihw", {yiq, half});
  CATCH_CHECK(at::allclose(after[0][0], before[0][0], 1e-6, 1e-6));
  CATCH_CHECK(at::allclose(after[0].slice(0, 1), -before[0].slice(0, 1), 1e-6, 1e-6));
  // The order matters through the clipping: brightness 2 then contrast 0 vs contrast 0 then brightness 2.
  d.hue = 0;
  d.brightness = 2;
  d.contrast = 0;
  d.order = {0, 1, 2, 3};
  const at::Tensor bc = apply_colour(x, d);
  CATCH_CHECK(at::allclose(bc, at::full_like(x, luma((x * 2).clamp(0, 1)).mean().item<double>())));
  d.order = {1, 0, 2, 3};
  CATCH_CHECK(at::allclose(apply_colour(x, d), at::full_like(x, std::min(1.0, 2 * m))));
  // Grayscale: the luma in all three channels.
  ColourDraw g;
  g.grayscale = true;
  const at::Tensor gray = apply_colour(x, g);
  for (int c = 0; c < 3; ++c) CATCH_CHECK(at::allclose(gray[0][c], luma(x)));
  // Blur: a constant image stays constant, a point spreads into a normalised Gaussian of sigma.
  ColourDraw b;
  b.blur = true;
  b.sigma = 1.5;
  CATCH_CHECK(at::allclose(apply_colour(at::full({1, 3, 40, 40}, 0.3, at::kDouble), b), at::full({1, 3, 40, 40}, 0.3, at::kDouble)));
  at::Tensor point = at::zeros({1, 3, 41, 41}, at::kDouble);
  point.index_put_({0, at::indexing::Slice(), 20, 20}, 1.0);
  const at::Tensor spread = apply_colour(point, b)[0][0];
  CATCH_CHECK(spread.sum().item<double>() == Approx(1.0).epsilon(1e-9));
  const double ratio = spread[20][21].item<double>() / spread[20][20].item<double>();
  CATCH_CHECK(ratio == Approx(std::exp(-1.0 / (2 * 1.5 * 1.5))).epsilon(1e-9));
  // A 1-pixel-high image is left as it is; a 2-pixel one is blurred without error.
  CATCH_CHECK(at::equal(apply_colour(x.slice(2, 0, 1), b), x.slice(2, 0, 1)));
  CATCH_CHECK(apply_colour(x.slice(2, 0, 2), b).sizes() == at::IntArrayRef({1, 3, 2, 8}));
  // Solarisation inverts what is at or above 0.5.
  ColourDraw s;
  s.solarize = true;
  CATCH_CHECK(at::allclose(apply_colour(x, s), at::where(x < 0.5, x, 1 - x)));
}

CATCH_TEST_CASE("colour draws: probabilities, ranges, every order of the four adjustments", "[data]") {
  ColourAugment a;
  a.jitter_prob = 0.8;
  a.jitter = {0.8, 0.8, 0.8, 0.2};
  a.grayscale_prob = 0.2;
  a.blur_prob = 0.5;
  a.solarize_prob = 0.1;
  std::mt19937_64 rng(5);
  const int n = 20000;
  int jitter = 0, grey = 0, blur = 0, solar = 0;
  std::set<std::array<int, 4>> orders;
  for (int i = 0; i < n; ++i) {
    const ColourDraw d = draw_colour(a, rng);
    jitter += d.jitter, grey += d.grayscale, blur += d.blur, solar += d.solarize;
    if (d.jitter) {
      CATCH_REQUIRE(d.brightness >= 0.2);
      CATCH_REQUIRE(d.brightness <= 1.8);
      CATCH_REQUIRE(std::abs(d.hue) <= 0.2);
      orders.insert(d.order);
    }
    CATCH_REQUIRE(d.sigma >= 0.1);
    CATCH_REQUIRE(d.sigma <= 2.0);
  }
  CATCH_CHECK(jitter / double(n) == Approx(0.8).margin(0.015));
  CATCH_CHECK(grey / double(n) == Approx(0.2).margin(0.015));
  CATCH_CHECK(blur / double(n) == Approx(0.5).margin(0.015));
  CATCH_CHECK(solar / double(n) == Approx(0.1).margin(0.015));
  CATCH_CHECK(orders.size() == 24);
  a.random_order = false;
  for (int i = 0; i < 100; ++i) CATCH_CHECK(draw_colour(a, rng).order == std::array<int, 4>{0, 1, 2, 3});
  CATCH_CHECK_FALSE(ColourAugment{}.any());
}

CATCH_TEST_CASE("the image pipeline's colour augmentation: off is the plain crop, on adjusts it", "[data]") {
  torch::manual_seed(2);
  const at::Tensor img = (at::rand({30, 40, 3}) * 255).to(at::kByte);
  ImageTransform t;
  t.size = 16;
  t.train = true;
  t.flip = true;
  t.scale = {0.5, 1.0};
  std::mt19937_64 r1(9), r2(9);
  const at::Tensor plain = transform_image(img, t, r1);
  // Probability 0 everywhere: the same pixels and the same random numbers as no colour settings.
  ImageTransform off = t;
  off.colour.jitter = {0.8, 0.8, 0.8, 0.2};
  CATCH_CHECK(at::equal(transform_image(img, off, r2), plain));
  CATCH_CHECK(r1() == r2());
  // Grayscale with probability 1: after undoing the normalisation the three channels are equal, and
  // equal to the plain crop's luma.
  ImageTransform grey = t;
  grey.colour.grayscale_prob = 1;
  std::mt19937_64 r3(9);
  const at::Tensor g = transform_image(img, grey, r3);
  auto undo = [&](const at::Tensor& x) {
    return x * at::tensor({t.std[0], t.std[1], t.std[2]}).view({3, 1, 1}) +
           at::tensor({t.mean[0], t.mean[1], t.mean[2]}).view({3, 1, 1});
  };
  const at::Tensor gp = undo(g), pp = undo(plain);
  CATCH_CHECK(at::allclose(gp[0], gp[1], 1e-5, 1e-5));
  CATCH_CHECK(at::allclose(gp[0], luma(pp.unsqueeze(0)), 1e-4, 1e-4));
  // Evaluation never augments colours.
  grey.train = false;
  ImageTransform eval = t;
  eval.train = false;
  std::mt19937_64 r4(9), r5(9);
  CATCH_CHECK(at::equal(transform_image(img, grey, r4), transform_image(img, eval, r5)));
}

CATCH_TEST_CASE("two views of an image: decoded once, augmented twice, the same for the same seed", "[data]") {
  TempDir dir;
  std::vector<unsigned char> px(24 * 20 * 3);
  std::mt19937 rng(1);
  for (auto& p : px) p = static_cast<unsigned char>(rng() % 256);
  stbi_write_png((dir / "a.png").c_str(), 24, 20, 3, px.data(), 24 * 3);
  // An unlabelled folder of images is a training set.
  const Manifest m = read_manifest(dir.path().string(), ManifestColumns{});
  CATCH_REQUIRE(m.records.size() == 1);
  CATCH_CHECK(m.records.label(0) == -1);
  ImageTransform t;
  t.size = 12;
  t.train = true;
  t.scale = {0.08, 1.0};
  t.flip = true;
  t.colour.jitter_prob = 0.8;
  ImageTextDataset two(m, t, nullptr, 0, 2);
  const Sample s = two.get(0, 7);
  CATCH_REQUIRE(s.image.sizes() == at::IntArrayRef({2, 3, 12, 12}));
  CATCH_CHECK((s.image[0] - s.image[1]).abs().max().item<double>() > 1e-3);
  CATCH_CHECK(at::equal(two.get(0, 7).image, s.image));
  CATCH_CHECK_FALSE(at::equal(two.get(0, 8).image, s.image));
  ImageTextDataset one(m, t, nullptr, 0);
  CATCH_CHECK(one.get(0, 7).image.sizes() == at::IntArrayRef({3, 12, 12}));
}

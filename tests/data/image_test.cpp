#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/data/dataset.h"
#include "mmcl/data/image.h"
#include "mmcl/media/image.h"
#include "mmcl/data/resample.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::data;

namespace {
std::string png(int w, int h, int channels, const std::vector<unsigned char>& pixels) {
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, channels, pixels.data(), w * channels);
  return out;
}
}  // namespace

CATCH_TEST_CASE("images decode to RGB uint8, grey and RGBA included, garbage is a SampleError", "[data]") {
  const at::Tensor rgb = media::decode_image(png(2, 1, 3, {10, 20, 30, 40, 50, 60}), "rgb");
  CATCH_CHECK(rgb.sizes() == at::IntArrayRef({1, 2, 3}));
  CATCH_CHECK(rgb[0][1][2].item<int>() == 60);
  const at::Tensor grey = media::decode_image(png(1, 1, 1, {77}), "grey");
  CATCH_CHECK(grey.sizes() == at::IntArrayRef({1, 1, 3}));
  CATCH_CHECK(grey[0][0][1].item<int>() == 77);
  const at::Tensor rgba = media::decode_image(png(1, 1, 4, {1, 2, 3, 4}), "rgba");
  test::fuzz_seed("image_fuzz", "rgb.png", png(2, 1, 3, {10, 20, 30, 40, 50, 60}));
  test::fuzz_seed("image_fuzz", "grey.png", png(1, 1, 1, {77}));
  test::fuzz_seed("image_fuzz", "rgba.png", png(1, 1, 4, {1, 2, 3, 4}));
  CATCH_CHECK(rgba[0][0][2].item<int>() == 3);
  CATCH_CHECK_THROWS_AS(media::decode_image("not an image", "x"), media::DecodeError);
  CATCH_CHECK_THROWS_AS(data::decode_sample_image("not an image", "x", 1000), SampleError);
  CATCH_CHECK_THROWS_AS(data::read_sample_image("/nonexistent/x.png", 1000), SampleError);
}

namespace {
// A PNG whose header declares w x h pixels but which holds no image data: what a decompression bomb's
// header says, without the bytes.
std::string png_header(uint32_t w, uint32_t h) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  std::string ihdr = "IHDR" + be32(w) + be32(h) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + ihdr + be32(0) + be32(0) + "IEND" + be32(0);
}
// An 8x8 JPEG (stb's encoder) whose frame header is rewritten to declare w x h.
std::string jpeg_declaring(uint16_t w, uint16_t h) {
  std::vector<unsigned char> px(8 * 8 * 3, 128);
  std::string out;
  stbi_write_jpg_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, 8, 8, 3, px.data(), 90);
  const size_t sof = out.find("\xff\xc0");
  CATCH_REQUIRE(sof != std::string::npos);
  out[sof + 5] = static_cast<char>(h >> 8), out[sof + 6] = static_cast<char>(h & 0xff);
  out[sof + 7] = static_cast<char>(w >> 8), out[sof + 8] = static_cast<char>(w & 0xff);
  return out;
}
}  // namespace

CATCH_TEST_CASE("decompression bombs are refused from the header, before decoding (data.image.max_pixels)", "[data]") {
  // 12000 x 12000 passes stb's own limit (2^30 bytes of pixels) and would be decoded: 432 MB for a few bytes.
  CATCH_CHECK(media::image_size(png_header(12000, 12000)) == std::make_pair(int64_t{12000}, int64_t{12000}));
  try {
    media::decode_image(png_header(12000, 12000), "bomb.png");
    CATCH_FAIL("decoded");
  } catch (const media::DecodeError& e) {
    CATCH_CHECK(std::string(e.what()) == "bomb.png: 12000 x 12000 pixels, over data.image.max_pixels (100000000)");
  }
  CATCH_CHECK_THROWS_AS(media::decode_image(png_header(20000, 20000), "bomb.png"), media::DecodeError);
  // 65500 x 65500 overflowed 32-bit sizes and ended the run; a JPEG header is read the same way.
  CATCH_CHECK_THROWS_WITH(media::decode_image(jpeg_declaring(65500, 65500), "bomb.jpg"),
                          "bomb.jpg: 65500 x 65500 pixels, over data.image.max_pixels (100000000)");
  CATCH_CHECK(media::image_size(jpeg_declaring(8, 8)) == std::make_pair(int64_t{8}, int64_t{8}));
  CATCH_CHECK(media::decode_image(jpeg_declaring(8, 8), "ok.jpg").sizes() == at::IntArrayRef({8, 8, 3}));
  test::fuzz_seed("image_fuzz", "8x8.jpg", jpeg_declaring(8, 8));
  // The limit is the config's: a 2 x 1 image passes 2 pixels and fails 1; for a dataset it is a skipped sample.
  const std::string small = png(2, 1, 3, {10, 20, 30, 40, 50, 60});
  CATCH_CHECK(data::decode_sample_image(small, "small.png", 2).size(1) == 2);
  CATCH_CHECK_THROWS_AS(data::decode_sample_image(small, "small.png", 1), SampleError);
  CATCH_CHECK(!media::image_size("not an image").has_value());
}

CATCH_TEST_CASE("eval transform: resize the shorter side, centre crop, normalise", "[data]") {
  // A 4x8 image: left half black, right half white.
  at::Tensor img = at::zeros({4, 8, 3}, at::kByte);
  img.slice(1, 4, 8).fill_(255);
  ImageTransform t;
  t.size = 4;
  t.mean = {0.5, 0.5, 0.5};
  t.std = {0.5, 0.5, 0.5};
  std::mt19937_64 rng(0);
  const at::Tensor out = transform_image(img, t, rng);
  CATCH_CHECK(out.sizes() == at::IntArrayRef({3, 4, 4}));  // no resize needed, centre 4 columns: 2..5
  CATCH_CHECK(out[0][0][0].item<float>() == Approx(-1.0f));
  CATCH_CHECK(out[0][0][3].item<float>() == Approx(1.0f));
  // Upscaling a constant image keeps it constant.
  t.size = 6;
  const at::Tensor flat = transform_image(at::full({3, 3, 3}, 51, at::kByte), t, rng);
  CATCH_CHECK(flat.sizes() == at::IntArrayRef({3, 6, 6}));
  CATCH_CHECK(at::allclose(flat, at::full({3, 6, 6}, (0.2f - 0.5f) / 0.5f), 1e-4, 1e-4));
}

CATCH_TEST_CASE("RandomResizedCrop boxes lie inside the image and follow the scale range", "[data]") {
  ImageTransform t;
  t.scale = {0.5, 0.6};
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const auto b = random_resized_crop_box(100, 80, t, rng);
    CATCH_CHECK(b[0] >= 0);
    CATCH_CHECK(b[1] >= 0);
    CATCH_CHECK(b[0] + b[2] <= 100);
    CATCH_CHECK(b[1] + b[3] <= 80);
    const double area = static_cast<double>(b[2] * b[3]) / 8000.0;
    CATCH_CHECK(area >= 0.45);
    CATCH_CHECK(area <= 0.65);
  }
  t.train = true;
  t.size = 16;
  t.flip = true;
  const at::Tensor out = transform_image(at::randint(0, 255, {40, 30, 3}).to(at::kByte), t, rng);
  CATCH_CHECK(out.sizes() == at::IntArrayRef({3, 16, 16}));
}

CATCH_TEST_CASE("the fused crop + antialiased bicubic resize + normalise equals ATen's resize", "[data]") {
  // ATen's _upsample_bicubic2d_aa implements PIL's antialiased bicubic; the pipeline's separable
  // resampler must give the same pixels for shrinking, enlarging and mixed boxes.
  std::mt19937_64 rng(9);
  const at::Tensor img = at::randint(0, 256, {57, 83, 3}, at::TensorOptions().dtype(at::kByte));
  const std::array<double, 3> mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
  const at::Tensor m = at::tensor({mean[0], mean[1], mean[2]}, at::kFloat).view({3, 1, 1});
  const at::Tensor s = at::tensor({std[0], std[1], std[2]}, at::kFloat).view({3, 1, 1});
  auto reference = [&](std::array<int64_t, 4> b, int64_t oh, int64_t ow) {
    at::Tensor x = img.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).slice(2, b[0], b[0] + b[2]).slice(3, b[1], b[1] + b[3]);
    x = at::_upsample_bicubic2d_aa(x, {oh, ow}, false).clamp(0, 255).squeeze(0);
    return (x / 255.0f - m) / s;
  };
  const std::vector<std::pair<std::array<int64_t, 4>, std::array<int64_t, 2>>> cases = {
      {{0, 0, 57, 83}, {16, 16}},   // shrink a lot
      {{5, 7, 40, 33}, {24, 24}},   // shrink a little
      {{10, 3, 12, 9}, {30, 20}},   // enlarge
      {{0, 40, 57, 43}, {20, 60}},  // shrink one way, enlarge the other
      {{3, 3, 7, 7}, {7, 7}},       // same size: a plain crop
  };
  for (const auto& [box, size] : cases) {
    CATCH_CAPTURE(box[0], box[1], box[2], box[3], size[0], size[1]);
    ResampleSpec spec;
    spec.box = box;
    spec.out_h = spec.window_h = size[0];
    spec.out_w = spec.window_w = size[1];
    spec.mean = mean;
    spec.std = std;
    const at::Tensor ours = resample_normalise(img, spec);
    const at::Tensor ref = reference(box, size[0], size[1]);
    CATCH_CHECK((ours - ref).abs().max().item<float>() < 1e-3f);  // 1e-3 after /255/std: < 0.07 grey levels
    spec.flip = true;
    CATCH_CHECK(at::equal(resample_normalise(img, spec), ours.flip({2})));
    // A window of the resized region is that part of the whole.
    spec.flip = false;
    spec.window = {size[0] / 3, size[1] / 4};
    spec.window_h = size[0] - size[0] / 3;
    spec.window_w = size[1] / 2;
    const at::Tensor part = resample_normalise(img, spec);
    CATCH_CHECK(at::allclose(part, ours.slice(1, size[0] / 3, size[0]).slice(2, size[1] / 4, size[1] / 4 + size[1] / 2),
                             1e-5, 1e-5));
  }
  ResampleSpec bad;
  bad.box = {50, 0, 10, 10};
  bad.out_h = bad.out_w = bad.window_h = bad.window_w = 4;
  CATCH_CHECK_THROWS_AS(resample_normalise(img, bad), mmcl::Error);
}

namespace {
// A smooth 640 x 480 photo-like JPEG (gradients and a few soft blobs, quality 90).
std::string smooth_jpeg(int w, int h) {
  std::vector<unsigned char> px(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = static_cast<double>(x) / w, v = static_cast<double>(y) / h;
      const double blob = std::exp(-((u - 0.3) * (u - 0.3) + (v - 0.6) * (v - 0.6)) * 20);
      unsigned char* p = &px[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<unsigned char>(40 + 180 * u);
      p[1] = static_cast<unsigned char>(30 + 150 * v + 60 * blob);
      p[2] = static_cast<unsigned char>(200 - 120 * u * v);
    }
  std::string out;
  stbi_write_jpg_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, 3, px.data(), 90);
  return out;
}
}  // namespace

CATCH_TEST_CASE("reduced JPEG decoding: the crop's own scale, the same random numbers, nearly the same pixels",
                "[data]") {
  // The scale: the smallest M/8 keeping the crop at least `size` a side.
  CATCH_CHECK(reduced_decode_eighths(480, 640, 224) == 4);   // 240 x 320 at 1/2
  CATCH_CHECK(reduced_decode_eighths(300, 300, 224) == 6);   // 225 at 6/8
  CATCH_CHECK(reduced_decode_eighths(224, 1000, 224) == 8);  // no room: full size
  CATCH_CHECK(reduced_decode_eighths(100, 100, 224) == 8);   // an upscale stays an upscale
  CATCH_CHECK(reduced_decode_eighths(1792, 1792, 224) == 1);
  if (!media::can_decode_reduced(smooth_jpeg(16, 16))) {
    CATCH_WARN("built without libjpeg-turbo: no reduced decoding to test");
    return;
  }
  CATCH_CHECK(!media::can_decode_reduced(png(1, 1, 3, {1, 2, 3})));
  const std::string jpeg = smooth_jpeg(640, 480);
  // libjpeg-turbo's sizes: ceil(side * M / 8).
  CATCH_CHECK(media::decode_image_reduced(jpeg, "j", 1'000'000, 4).sizes() == at::IntArrayRef({240, 320, 3}));
  CATCH_CHECK(media::decode_image_reduced(jpeg, "j", 1'000'000, 3).sizes() == at::IntArrayRef({180, 240, 3}));
  CATCH_CHECK(media::decode_image_reduced(png(2, 1, 3, {1, 2, 3, 4, 5, 6}), "p", 100, 1).sizes() ==
              at::IntArrayRef({1, 2, 3}));  // not a JPEG: full size
  // The bomb check reads the full size from the header, whatever the scale.
  CATCH_CHECK_THROWS_AS(media::decode_image_reduced(jpeg, "j", 640 * 480 - 1, 1), media::DecodeError);

  ImageTransform t;
  t.train = true;
  t.flip = true;
  t.size = 224;
  t.scale = {0.9, 1.0};
  ImageTransform reduced = t;
  reduced.reduced_decode = true;
  double worst = 0, total = 0;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    CATCH_CAPTURE(seed);
    std::mt19937_64 a(seed), b(seed);
    const at::Tensor full = transform_image(media::decode_image(jpeg, "j"), t, a);
    const at::Tensor fast = transform_image_bytes(jpeg, "j", reduced, b);
    CATCH_REQUIRE(fast.sizes() == full.sizes());
    // The same draws (crop, flip) were made: the generators are in the same state.
    CATCH_CHECK(a() == b());
    // In [0, 255] units: the DCT's low-pass for part of the bicubic one.
    const double diff = (fast - full).abs().mean().item<double>() * 0.27 * 255;
    worst = std::max(worst, (fast - full).abs().max().item<double>() * 0.27 * 255);
    total += diff;
    CATCH_CHECK(diff < 2.0);
  }
  CATCH_CHECK(worst < 40);
  CATCH_CHECK(total > 0);  // it did decode differently
  // Off, at evaluation, or for a PNG: exactly transform_image of the full decode.
  for (const bool train : {true, false}) {
    ImageTransform off = train ? t : reduced;
    off.train = train;
    std::mt19937_64 a(3), b(3);
    CATCH_CHECK(at::equal(transform_image(media::decode_image(jpeg, "j"), off, a), transform_image_bytes(jpeg, "j", off, b)));
  }
  const std::string p = png(2, 2, 3, {9, 9, 9, 200, 200, 200, 50, 60, 70, 1, 2, 3});
  std::mt19937_64 a(4), b(4);
  CATCH_CHECK(at::equal(transform_image(media::decode_image(p, "p"), reduced, a), transform_image_bytes(p, "p", reduced, b)));
  CATCH_CHECK_THROWS_AS(transform_image_bytes("not an image", "x", reduced, a), SampleError);
}

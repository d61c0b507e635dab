#include <random>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/data/dataset.h"
#include "mmcl/data/image.h"
#include "util.h"

using namespace mmcl::data;

namespace {
std::string png(int w, int h, int channels, const std::vector<unsigned char>& pixels) {
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, channels, pixels.data(), w * channels);
  return out;
}
}  // namespace

CATCH_TEST_CASE("images decode to RGB uint8, grey and RGBA included; garbage is a SampleError", "[data]") {
  const at::Tensor rgb = decode_image(png(2, 1, 3, {10, 20, 30, 40, 50, 60}), "rgb");
  CATCH_CHECK(rgb.sizes() == at::IntArrayRef({1, 2, 3}));
  CATCH_CHECK(rgb[0][1][2].item<int>() == 60);
  const at::Tensor grey = decode_image(png(1, 1, 1, {77}), "grey");
  CATCH_CHECK(grey.sizes() == at::IntArrayRef({1, 1, 3}));
  CATCH_CHECK(grey[0][0][1].item<int>() == 77);
  const at::Tensor rgba = decode_image(png(1, 1, 4, {1, 2, 3, 4}), "rgba");
  CATCH_CHECK(rgba[0][0][2].item<int>() == 3);
  CATCH_CHECK_THROWS_AS(decode_image("not an image", "x"), SampleError);
  CATCH_CHECK_THROWS_AS(read_image("/nonexistent/x.png"), SampleError);
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

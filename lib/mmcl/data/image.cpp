#include "mmcl/data/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <ATen/ATen.h>
#include <stb_image.h>
#ifdef MMCL_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

#include "mmcl/data/dataset.h"
#include "mmcl/data/resample.h"

namespace mmcl::data {

namespace {

#ifdef MMCL_HAVE_TURBOJPEG
// libjpeg-turbo decodes JPEG about 2.5x faster than stb_image (SIMD Huffman decoding, IDCT and colour
// conversion). One decompressor per thread, made on first use.
class TurboDecoder {
 public:
  TurboDecoder() : handle_(tjInitDecompress()) {}
  ~TurboDecoder() {
    if (handle_) tjDestroy(handle_);
  }
  TurboDecoder(const TurboDecoder&) = delete;
  TurboDecoder& operator=(const TurboDecoder&) = delete;

  // RGB uint8 [H, W, 3], or an undefined tensor when libjpeg-turbo cannot (a damaged file, CMYK): the
  // caller then tries stb_image, which also says what is wrong.
  at::Tensor decode(const std::string& bytes) {
    if (!handle_) return {};
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto size = static_cast<unsigned long>(bytes.size());
    int w = 0, h = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(handle_, data, size, &w, &h, &subsampling, &colorspace) != 0 || w <= 0 || h <= 0)
      return {};
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return {};
    at::Tensor out = at::empty({h, w, 3}, at::kByte);
    if (tjDecompress2(handle_, data, size, out.data_ptr<uint8_t>(), w, 0, h, TJPF_RGB, 0) != 0) {
      // A warning (e.g. premature end of data) still leaves a usable image; an error does not.
      if (tjGetErrorCode(handle_) != TJERR_WARNING) return {};
    }
    return out;
  }

 private:
  tjhandle handle_;
};

bool is_jpeg(const std::string& bytes) {
  return bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}
#endif

}  // namespace

at::Tensor decode_image(const std::string& bytes, const std::string& name) {
#ifdef MMCL_HAVE_TURBOJPEG
  if (is_jpeg(bytes)) {
    thread_local TurboDecoder decoder;
    at::Tensor out = decoder.decode(bytes);
    if (out.defined()) return out;
  }
#endif
  int w = 0, h = 0, channels = 0;
  stbi_uc* pixels = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                          &w, &h, &channels, 3);
  if (!pixels) throw SampleError(str_cat(name, ": cannot decode image (", stbi_failure_reason(), ")"));
  at::Tensor out = at::empty({h, w, 3}, at::kByte);
  std::memcpy(out.data_ptr<uint8_t>(), pixels, static_cast<size_t>(w) * h * 3);
  stbi_image_free(pixels);
  return out;
}

at::Tensor read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SampleError(str_cat(path, ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return decode_image(ss.str(), path);
}

std::array<int64_t, 4> random_resized_crop_box(int64_t h, int64_t w, const ImageTransform& t, std::mt19937_64& rng) {
  const double area = static_cast<double>(h * w);
  std::uniform_real_distribution<double> scale(t.scale[0], t.scale[1]);
  std::uniform_real_distribution<double> log_ratio(std::log(t.ratio[0]), std::log(t.ratio[1]));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * scale(rng);
    const double aspect = std::exp(log_ratio(rng));
    const auto cw = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
    const auto ch = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, h - ch)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, w - cw)(rng);
      return {top, left, ch, cw};
    }
  }
  // Fallback: the largest centre crop within the ratio range.
  const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
  int64_t cw = w, ch = h;
  if (in_ratio < t.ratio[0]) ch = std::lround(static_cast<double>(w) / t.ratio[0]);
  else if (in_ratio > t.ratio[1]) cw = std::lround(static_cast<double>(h) * t.ratio[1]);
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

at::Tensor transform_image(const at::Tensor& image, const ImageTransform& t, std::mt19937_64& rng) {
  const int64_t h = image.size(0), w = image.size(1);
  ResampleSpec spec;
  spec.mean = t.mean;
  spec.std = t.std;
  spec.window_h = spec.window_w = t.size;
  if (t.train) {
    spec.box = random_resized_crop_box(h, w, t, rng);
    spec.out_h = spec.out_w = t.size;
    spec.flip = t.flip && std::uniform_int_distribution<int>(0, 1)(rng) == 1;
  } else {
    // open_clip's evaluation preprocess, to the pixel: torchvision's Resize(size) makes the shorter
    // side `size` and the longer int(size * long / short); CenterCrop starts at round((n - size) / 2)
    // with Python's round (halves to even).
    const int64_t shorter = std::min(h, w), longer = std::max(h, w);
    const int64_t resized_long = std::max<int64_t>(t.size, t.size * longer / shorter);
    spec.box = {0, 0, h, w};
    spec.out_h = h <= w ? t.size : resized_long;
    spec.out_w = h <= w ? (w == h ? t.size : resized_long) : t.size;
    auto centre = [](int64_t excess) {
      const int64_t half = excess / 2;
      return (excess % 2 == 1 && half % 2 == 1) ? half + 1 : half;  // round-half-even of excess / 2
    };
    spec.window = {centre(spec.out_h - t.size), centre(spec.out_w - t.size)};
  }
  return resample_normalise(image.contiguous(), spec);
}

}  // namespace mmcl::data

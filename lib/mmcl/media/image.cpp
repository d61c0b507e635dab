#include "mmcl/media/image.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <ATen/ATen.h>
#include <stb_image.h>
#ifdef MMCL_HAVE_TURBOJPEG
#include <turbojpeg.h>
#endif

namespace mmcl::media {

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
  if (!pixels) throw DecodeError(str_cat(name, ": cannot decode image (", stbi_failure_reason(), ")"));
  at::Tensor out = at::empty({h, w, 3}, at::kByte);
  std::memcpy(out.data_ptr<uint8_t>(), pixels, static_cast<size_t>(w) * h * 3);
  stbi_image_free(pixels);
  return out;
}

at::Tensor read_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DecodeError(str_cat(path, ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return decode_image(ss.str(), path);
}

}  // namespace mmcl::media

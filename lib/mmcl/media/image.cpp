#include "mmcl/media/image.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <sstream>
#include <utility>

#include <c10/util/Exception.h>

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

  // The width and height the JPEG header declares, if libjpeg-turbo reads it.
  std::optional<std::pair<int64_t, int64_t>> size_of(const std::string& bytes) {
    int w = 0, h = 0, subsampling = 0, colorspace = 0;
    if (!handle_ || tjDecompressHeader3(handle_, reinterpret_cast<const unsigned char*>(bytes.data()),
                                        static_cast<unsigned long>(bytes.size()), &w, &h, &subsampling, &colorspace) != 0)
      return std::nullopt;
    return std::make_pair(int64_t{w}, int64_t{h});
  }

  // RGB uint8 [H, W, 3] at `eighths` / 8 of the size (the inverse DCT scales), or an undefined tensor
  // when libjpeg-turbo cannot (a damaged file, CMYK): the caller then tries stb_image, which also says
  // what is wrong.
  at::Tensor decode(const std::string& bytes, int eighths = 8) {
    if (!handle_) return {};
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto size = static_cast<unsigned long>(bytes.size());
    int w = 0, h = 0, subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(handle_, data, size, &w, &h, &subsampling, &colorspace) != 0 || w <= 0 || h <= 0)
      return {};
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return {};
    const tjscalingfactor factor{eighths, 8};
    w = TJSCALED(w, factor);
    h = TJSCALED(h, factor);
    at::Tensor out = at::empty({h, w, 3}, at::kByte);
    // Given a smaller width and height, tjDecompress2 picks the scaling factor that fits them: M/8.
    if (tjDecompress2(handle_, data, size, out.data_ptr<uint8_t>(), w, 0, h, TJPF_RGB, 0) != 0) {
      // A warning (e.g. premature end of data) still leaves a usable image; an error does not.
      if (tjGetErrorCode(handle_) != TJERR_WARNING) return {};
    }
    return out;
  }

 private:
  tjhandle handle_;
};

// This thread's decompressor.
TurboDecoder& turbo() {
  thread_local TurboDecoder decoder;
  return decoder;
}

bool is_jpeg(const std::string& bytes) {
  return bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}
#endif

// Decodes without the size check (decode_image makes it first), JPEG at eighths / 8 of its size.
at::Tensor decode_pixels(const std::string& bytes, const std::string& name, int eighths = 8);

}  // namespace

std::optional<std::pair<int64_t, int64_t>> image_size(const std::string& bytes) {
#ifdef MMCL_HAVE_TURBOJPEG
  if (is_jpeg(bytes))
    if (auto size = turbo().size_of(bytes)) return size;
#endif
  int w = 0, h = 0, channels = 0;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                             &channels))
    return std::nullopt;
  return std::make_pair(int64_t{w}, int64_t{h});
}

namespace {

at::Tensor checked_decode(const std::string& bytes, const std::string& name, int64_t max_pixels, int eighths) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw DecodeError(str_cat(name, ": ", bytes.size(), " bytes, over the 2 GiB an image file may have"));
  // The header says how large the image is: a decompression bomb (a few KB declaring 20000 x 20000) is
  // refused before a byte of it is decoded.
  if (const auto size = image_size(bytes)) {
    const auto [w, h] = *size;
    if (w <= 0 || h <= 0) throw DecodeError(str_cat(name, ": declares ", w, " x ", h, " pixels"));
    if (w > max_pixels / h)
      throw DecodeError(str_cat(name, ": ", w, " x ", h, " pixels, over data.image.max_pixels (", max_pixels, ")"));
  }
  try {
    return decode_pixels(bytes, name, eighths);
  } catch (const std::bad_alloc&) {
    throw DecodeError(str_cat(name, ": out of memory decoding the image"));
  } catch (const c10::Error& e) {
    throw DecodeError(str_cat(name, ": cannot hold the decoded image (", e.what_without_backtrace(), ")"));
  }
}

}  // namespace

at::Tensor decode_image(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  return checked_decode(bytes, name, max_pixels, 8);
}

bool can_decode_reduced(const std::string& bytes) {
#ifdef MMCL_HAVE_TURBOJPEG
  return is_jpeg(bytes);
#else
  (void)bytes;
  return false;
#endif
}

at::Tensor decode_image_reduced(const std::string& bytes, const std::string& name, int64_t max_pixels, int eighths) {
  return checked_decode(bytes, name, max_pixels, std::clamp(eighths, 1, 8));
}

namespace {

at::Tensor decode_pixels(const std::string& bytes, const std::string& name, int eighths) {
#ifdef MMCL_HAVE_TURBOJPEG
  if (is_jpeg(bytes)) {
    at::Tensor out = turbo().decode(bytes, eighths);
    if (out.defined()) return out;
  }
#else
  (void)eighths;
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

}  // namespace

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DecodeError(str_cat(path, ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

at::Tensor read_image(const std::string& path, int64_t max_pixels) {
  return decode_image(read_file_bytes(path), path, max_pixels);
}

}  // namespace mmcl::media

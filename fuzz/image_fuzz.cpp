// Image decoding (stb_image and libjpeg-turbo): headers, the pixel limit before decoding, the pixels.
#include "fuzz.h"
#include "mmcl/media/error.h"
#include "mmcl/media/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto image = mmcl::media::decode_image(mmcl::fuzz::text(data, size), "fuzz", 4'000'000);
    if (image.dim() != 3 || image.size(2) != 3 || image.numel() == 0) std::abort();
  } catch (const mmcl::media::DecodeError&) {
  }
  return 0;
}

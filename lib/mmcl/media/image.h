#pragma once
// Image decoding: libjpeg-turbo for JPEG where available, stb_image for the rest.

#include <string>

#include <ATen/core/Tensor.h>

#include "mmcl/media/error.h"

namespace mmcl::media {

// Decodes JPEG, PNG, BMP or GIF (first frame) bytes to RGB uint8 [H, W, 3]; grey and RGBA become RGB.
// Throws DecodeError naming `name` when the bytes are not an image.
at::Tensor decode_image(const std::string& bytes, const std::string& name);
// Reads and decodes a file; a missing or unreadable file is a DecodeError.
at::Tensor read_image(const std::string& path);

}  // namespace mmcl::media

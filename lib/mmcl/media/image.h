#pragma once
// Image decoding: libjpeg-turbo for JPEG where available, stb_image for the rest.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <ATen/core/Tensor.h>

#include "mmcl/media/error.h"

namespace mmcl::media {

// The default of data.image.max_pixels: larger images are refused from their header.
constexpr int64_t kDefaultMaxPixels = 100'000'000;

// The width and height an image's header declares, or nullopt when it is no image this reads.
std::optional<std::pair<int64_t, int64_t>> image_size(const std::string& bytes);

// Decodes JPEG, PNG, BMP or GIF (first frame) bytes to RGB uint8 [H, W, 3]; grey and RGBA become RGB.
// Throws DecodeError naming `name` when the bytes are not an image, when the header declares more than
// `max_pixels` pixels (checked before decoding), or when the decoded image cannot be allocated.
at::Tensor decode_image(const std::string& bytes, const std::string& name, int64_t max_pixels = kDefaultMaxPixels);
// Reads and decodes a file; a missing or unreadable file is a DecodeError.
at::Tensor read_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);
// The bytes of a file; a missing or unreadable file is a DecodeError.
std::string read_file_bytes(const std::string& path);

// Whether decode_image can decode these bytes at a reduced scale: a JPEG libjpeg-turbo reads (its
// decompressor scales in the inverse DCT, at a fraction of the full decode's cost).
bool can_decode_reduced(const std::string& bytes);
// Decodes a JPEG at `eighths` / 8 of its size (1..8; each side TJSCALED: ceil(side * eighths / 8)),
// with the same checks as decode_image; other images, and JPEGs libjpeg-turbo cannot read, at full size.
at::Tensor decode_image_reduced(const std::string& bytes, const std::string& name, int64_t max_pixels, int eighths);

}  // namespace mmcl::media

#pragma once
// Which files are images to mmcl: the formats stb_image / libjpeg-turbo decode.

#include <filesystem>
#include <string>
#include <vector>

namespace mmcl::data {

// `extension` without the dot, any case: jpg, jpeg, png, bmp, gif.
bool is_image_extension(std::string extension);
// Every image file below `folder` (recursively), sorted by path.
std::vector<std::string> list_image_files(const std::filesystem::path& folder);

}  // namespace mmcl::data

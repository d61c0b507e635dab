#include "mmcl/data/image_files.h"

#include <algorithm>
#include <cctype>

namespace mmcl::data {

bool is_image_extension(std::string extension) {
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  return extension == "jpg" || extension == "jpeg" || extension == "png" || extension == "bmp" || extension == "gif";
}

std::vector<std::string> list_image_files(const std::filesystem::path& folder) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && ext.size() > 1 && is_image_extension(ext.substr(1))) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mmcl::data

#pragma once
// The error of a file that cannot be decoded (image, video or audio). Datasets turn it into a skipped,
// counted sample.

#include "mmcl/core/error.h"

namespace mmcl::media {

class DecodeError : public Error {
 public:
  using Error::Error;
};

}  // namespace mmcl::media

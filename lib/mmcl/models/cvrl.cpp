#include "mmcl/models/cvrl.h"

#include "mmcl/core/error.h"
#include "mmcl/models/projection.h"

namespace mmcl::models {

CvrlImpl::CvrlImpl(const config::ModelConfig& c) : config_(c) {
  backbone = register_module("backbone", R3d(c.video));
  head = projection_head(backbone->features(), c.cvrl);
  register_module("head", head);
}

at::Tensor CvrlImpl::features(const at::Tensor& clips) {
  MMCL_CHECK(clips.dim() == 5, "CVRL: expected clips [N, T, 3, H, W], got ", clips.sizes());
  return backbone->forward(clips.permute({0, 2, 1, 3, 4}));
}

Embeddings CvrlImpl::forward(const data::Batch& batch) {
  MMCL_CHECK(batch.video.defined(), "CVRL reads video clips; this batch has none");
  return two_view_embeddings(batch.video, 4, "video", [this](const at::Tensor& clips) { return features(clips); }, *head);
}

data::InputSpec CvrlImpl::input_spec() const {
  data::InputSpec spec;
  spec.video_frames = config_.video.frames;
  spec.video_size = config_.video.size;
  spec.video_views = 2;
  return spec;
}

}  // namespace mmcl::models

#include "mmcl/models/cvrl.h"

#include "mmcl/core/error.h"
#include "mmcl/models/clip.h"  // l2_normalize
#include "mmcl/models/projection.h"
#include "mmcl/models/sync_batchnorm.h"

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
  Embeddings e;
  e.logit_scale = at::zeros({}, batch.video.options());  // NT-Xent's temperature is the loss's
  if (batch.video.dim() == 6) {
    const int64_t b = batch.video.size(0);
    MMCL_CHECK(batch.video.size(1) == 2, "CVRL: expected two views per video, got ", batch.video.size(1));
    // Both views through the backbone and the head together (BatchNorm sees all 2B clips).
    const at::Tensor clips = batch.video.transpose(0, 1).reshape({2 * b, batch.video.size(2), batch.video.size(3),
                                                                  batch.video.size(4), batch.video.size(5)});
    const at::Tensor z = l2_normalize(forward_with_sync_bn(*head, features(clips)));
    e.by_modality["video"] = z.slice(0, 0, b);
    e.by_modality["video_2"] = z.slice(0, b, 2 * b);
  } else {
    e.by_modality["video"] = l2_normalize(features(batch.video));
  }
  return e;
}

data::InputSpec CvrlImpl::input_spec() const {
  data::InputSpec spec;
  spec.video_frames = config_.video.frames;
  spec.video_size = config_.video.size;
  spec.video_views = 2;
  return spec;
}

}  // namespace mmcl::models

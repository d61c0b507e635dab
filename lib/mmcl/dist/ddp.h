#pragma once
// Data parallelism on a process group: identical replicas that start equal (broadcast from rank 0),
// see different samples, and take the same optimiser step from gradients averaged over ranks.

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "mmcl/dist/group.h"

namespace mmcl::dist {

// Copies rank 0's parameters and buffers into every rank's `module`.
void broadcast_state(Group& group, torch::nn::Module& module);

// Averages the .grad of `params` over ranks after backward. Gradients are copied into flat buffers
// of about `bucket_mb` MiB (per dtype and device, in reverse registration order, so the last layers'
// gradients go first); each bucket's all-reduce starts as soon as it is filled, so communication
// overlaps with filling the next. Parameters without a gradient (unused in this step) are left out;
// every rank must leave out the same ones, which the first reduce() checks.
class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<Group> group, std::vector<at::Tensor> params, double bucket_mb);
  void reduce();
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t numel = 0;
    at::Tensor flat;
  };
  void build(const std::vector<size_t>& with_grad);

  std::shared_ptr<Group> group_;
  std::vector<at::Tensor> params_;
  int64_t bucket_bytes_;
  std::vector<size_t> layout_;  // the parameters with a gradient the buckets were built for
  std::vector<Bucket> buckets_;
};

// Every rank's rows of `local` ([n, ...], the same n on every rank) concatenated in rank order, for a
// contrastive loss over the global batch (open_clip's gather_features). The rows of this rank are
// `local` itself, so their gradient flows back. In backward, with `with_grad` the gradient of the
// gathered tensor is summed over ranks first (each rank's rows receive what every rank's loss put on
// them); without it this rank's rows keep only their own gradient, multiplied by `local_grad_scale`.
at::Tensor gather_rows(const at::Tensor& local, Group& group, bool with_grad, double local_grad_scale = 1.0);

}  // namespace mmcl::dist

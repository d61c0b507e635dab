#include "mmcl/dist/ddp.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "mmcl/core/error.h"

namespace mmcl::dist {

void broadcast_state(Group& group, torch::nn::Module& module) {
  if (group.world_size() == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> tensors;
  for (const auto& p : module.parameters()) tensors.push_back(p);
  for (const auto& b : module.buffers()) tensors.push_back(b);
  group.broadcast(tensors);
}

GradientReducer::GradientReducer(std::shared_ptr<Group> group, std::vector<at::Tensor> params, double bucket_mb)
    : group_(std::move(group)),
      params_(std::move(params)),
      bucket_bytes_(std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * 1024 * 1024))) {}

void GradientReducer::build(const std::vector<size_t>& with_grad) {
  // Every rank must reduce the same gradients in the same buckets: count them across ranks once.
  at::Tensor count = at::full({1}, static_cast<double>(with_grad.size()),
                              at::TensorOptions().dtype(at::kDouble).device(params_.at(with_grad.front()).device()));
  group_->all_reduce_sum(count);
  const double expected = static_cast<double>(with_grad.size() * static_cast<size_t>(group_->world_size()));
  MMCL_CHECK(count.item<double>() == expected, "rank ", group_->rank(), " has gradients for ", with_grad.size(),
             " parameters but the ranks together have ", count.item<double>(), "; every rank must use the same ",
             "parameters in a step");
  layout_ = with_grad;
  buckets_.clear();
  // Reverse order; a new bucket when it is full or the dtype or device changes.
  for (auto it = with_grad.rbegin(); it != with_grad.rend(); ++it) {
    const at::Tensor& g = params_[*it].grad();
    bool fresh = buckets_.empty();
    if (!fresh) {
      const Bucket& b = buckets_.back();
      const at::Tensor& first = params_[b.params.front()].grad();
      fresh = first.scalar_type() != g.scalar_type() || first.device() != g.device() ||
              b.numel * static_cast<int64_t>(first.element_size()) >= bucket_bytes_;
    }
    if (fresh) buckets_.push_back({});
    buckets_.back().params.push_back(*it);
    buckets_.back().numel += g.numel();
  }
  for (Bucket& b : buckets_) b.flat = at::empty({b.numel}, params_[b.params.front()].grad().options());
}

void GradientReducer::reduce() {
  if (group_->world_size() == 1) return;
  std::vector<size_t> with_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].grad().defined()) with_grad.push_back(i);
  if (with_grad.empty()) return;
  if (with_grad != layout_) build(with_grad);

  torch::NoGradGuard no_grad;
  std::vector<std::function<void()>> pending;
  for (Bucket& b : buckets_) {
    int64_t offset = 0;
    for (size_t i : b.params) {
      const at::Tensor& g = params_[i].grad();
      b.flat.narrow(0, offset, g.numel()).copy_(g.reshape({-1}));
      offset += g.numel();
    }
    pending.push_back(group_->all_reduce_sum_async(b.flat));
  }
  const double inv = 1.0 / static_cast<double>(group_->world_size());
  for (size_t k = 0; k < buckets_.size(); ++k) {
    pending[k]();
    Bucket& b = buckets_[k];
    b.flat.mul_(inv);
    int64_t offset = 0;
    for (size_t i : b.params) {
      at::Tensor g = params_[i].grad();
      g.copy_(b.flat.narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
  }
}

namespace {

struct GatherRows : public torch::autograd::Function<GatherRows> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& local, Group* group,
                            bool with_grad, double local_grad_scale) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    ctx->saved_data["with_grad"] = with_grad;
    ctx->saved_data["scale"] = local_grad_scale;
    ctx->saved_data["rows"] = local.size(0);
    at::Tensor all = group->all_gather(local.detach());
    // This rank's rows are the local tensor itself, as in open_clip.
    all.narrow(0, group->rank() * local.size(0), local.size(0)).copy_(local.detach());
    return all;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* group = reinterpret_cast<Group*>(ctx->saved_data["group"].toInt());
    const bool with_grad = ctx->saved_data["with_grad"].toBool();
    const double scale = ctx->saved_data["scale"].toDouble();
    const int64_t rows = ctx->saved_data["rows"].toInt();
    at::Tensor grad = grads.at(0);
    if (with_grad) {
      grad = grad.contiguous().clone();
      group->all_reduce_sum(grad);
    }
    at::Tensor mine = grad.narrow(0, group->rank() * rows, rows);
    if (!with_grad && scale != 1.0) mine = mine * scale;
    return {mine.contiguous(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor gather_rows(const at::Tensor& local, Group& group, bool with_grad, double local_grad_scale) {
  if (group.world_size() == 1) return local;
  return GatherRows::apply(local, &group, with_grad, local_grad_scale);
}

}  // namespace mmcl::dist

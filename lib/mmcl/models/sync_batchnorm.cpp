#include "mmcl/models/sync_batchnorm.h"

#include <mutex>

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace mmcl::models {
namespace {

std::mutex sync_mutex;
SumAcrossProcesses& sync_function() {
  static SumAcrossProcesses f;
  return f;
}

SumAcrossProcesses current_sync() {
  std::lock_guard<std::mutex> lock(sync_mutex);
  return sync_function();
}

std::vector<int64_t> reduce_dims(const at::Tensor& x) {
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) dims.push_back(d);
  return dims;
}

at::Tensor channel_view(const at::Tensor& t, const at::Tensor& x) {  // [C] -> broadcastable over x
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = t.size(0);
  return t.view(shape);
}

class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, at::Tensor running_mean, at::Tensor running_var, double momentum,
                            double eps) {
    const SumAcrossProcesses sum = current_sync();
    const auto dims = reduce_dims(x);
    const int64_t channels = x.size(1);
    // Statistics in float32 at least (a bf16 sum of squares loses the variance).
    const at::Tensor xf = x.to(at::promote_types(x.scalar_type(), at::kFloat));
    at::Tensor packed = at::cat({xf.sum(dims), xf.square().sum(dims),
                                 at::full({1}, static_cast<double>(x.numel() / channels), xf.options())});
    if (sum) sum(packed);
    const at::Tensor count = packed.slice(0, 2 * channels, 2 * channels + 1);
    const at::Tensor mean = packed.slice(0, 0, channels) / count;
    const at::Tensor var = (packed.slice(0, channels, 2 * channels) / count - mean.square()).clamp_min(0);
    const at::Tensor invstd = (var + eps).rsqrt();
    {
      at::NoGradGuard no_grad;
      if (running_mean.defined()) running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype()), momentum);
      if (running_var.defined()) {
        const at::Tensor unbiased = var * count / (count - 1).clamp_min(1);
        running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype()), momentum);
      }
    }
    const at::Tensor xhat = (xf - channel_view(mean, x)) * channel_view(invstd, x);
    at::Tensor y = xhat;
    if (weight.defined()) y = y * channel_view(weight.to(xf.scalar_type()), x);
    if (bias.defined()) y = y + channel_view(bias.to(xf.scalar_type()), x);
    ctx->save_for_backward({xhat, invstd, count, weight});
    ctx->saved_data["has_bias"] = bias.defined();
    ctx->saved_data["dtype"] = static_cast<int64_t>(x.scalar_type());
    return y.to(x.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &xhat = saved[0], &invstd = saved[1], &count = saved[2], &weight = saved[3];
    const SumAcrossProcesses sum = current_sync();
    const auto dims = reduce_dims(xhat);
    const int64_t channels = xhat.size(1);
    const at::Tensor dy = grads[0].to(xhat.scalar_type());
    const at::Tensor sum_dy = dy.sum(dims), sum_dy_xhat = (dy * xhat).sum(dims);
    // The parameters' gradients are this process's share (the gradient reducer adds the processes').
    const at::Tensor grad_weight = weight.defined() ? sum_dy_xhat.to(weight.scalar_type()) : at::Tensor();
    const at::Tensor grad_bias = ctx->saved_data["has_bias"].toBool() ? sum_dy.to(weight.defined() ? weight.scalar_type() : dy.scalar_type()) : at::Tensor();
    at::Tensor packed = at::cat({sum_dy, sum_dy_xhat});
    if (sum) sum(packed);
    const at::Tensor mean_dy = packed.slice(0, 0, channels) / count;
    const at::Tensor mean_dy_xhat = packed.slice(0, channels, 2 * channels) / count;
    at::Tensor scale = invstd;
    if (weight.defined()) scale = scale * weight.to(invstd.scalar_type());
    const at::Tensor dx = (dy - channel_view(mean_dy, dy) - xhat * channel_view(mean_dy_xhat, dy)) * channel_view(scale, dy);
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    return {dx.to(dtype), grad_weight, grad_bias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

template <class BN>
at::Tensor run(BN& bn, const at::Tensor& x) {
  if (!current_sync() || !bn.is_training()) return bn.forward(x);
  const auto& o = bn.options;
  const double momentum = o.momentum().has_value() ? *o.momentum() : 0.1;
  if (o.track_running_stats()) {
    at::NoGradGuard no_grad;
    bn.num_batches_tracked.add_(1);
  }
  return sync_batch_norm(x, o.affine() ? bn.weight : at::Tensor(), o.affine() ? bn.bias : at::Tensor(),
                         o.track_running_stats() ? bn.running_mean : at::Tensor(),
                         o.track_running_stats() ? bn.running_var : at::Tensor(), momentum, o.eps());
}

}  // namespace

SumAcrossProcesses set_batchnorm_sync(SumAcrossProcesses sum) {
  std::lock_guard<std::mutex> lock(sync_mutex);
  SumAcrossProcesses previous = std::move(sync_function());
  sync_function() = std::move(sum);
  return previous;
}

at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           at::Tensor running_mean, at::Tensor running_var, double momentum, double eps) {
  TORCH_CHECK(x.dim() >= 2, "batch_norm: expected [N, C, ...], got ", x.sizes());
  return SyncBatchNormFunction::apply(x, weight, bias, running_mean, running_var, momentum, eps);
}

at::Tensor batch_norm(torch::nn::BatchNorm1dImpl& bn, const at::Tensor& x) { return run(bn, x); }
at::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x) { return run(bn, x); }
at::Tensor batch_norm(torch::nn::BatchNorm3dImpl& bn, const at::Tensor& x) { return run(bn, x); }

at::Tensor forward_with_sync_bn(torch::nn::SequentialImpl& layers, at::Tensor x) {
  for (auto& layer : layers) {
    if (auto* bn1 = layer.ptr()->as<torch::nn::BatchNorm1dImpl>()) x = batch_norm(*bn1, x);
    else if (auto* bn2 = layer.ptr()->as<torch::nn::BatchNorm2dImpl>()) x = batch_norm(*bn2, x);
    else if (auto* bn3 = layer.ptr()->as<torch::nn::BatchNorm3dImpl>()) x = batch_norm(*bn3, x);
    else x = layer.forward(x);
  }
  return x;
}

}  // namespace mmcl::models

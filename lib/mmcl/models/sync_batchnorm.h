#pragma once
// Batch normalisation whose batch statistics span every process of a run (synchronised BatchNorm, as
// torch.nn.SyncBatchNorm and TensorFlow's cross-replica BatchNormalization): in training, each process
// sums its per-channel count, sum and sum of squares, the sums are added across processes, and every
// process normalises with the global mean and (biased) variance; the backward pass adds the per-channel
// sums of the upstream gradient and of its product with the normalised input the same way. So P
// processes of B samples compute what one process of P x B computes. Running statistics are updated
// from the global ones (the unbiased variance, as PyTorch). Evaluation uses the running statistics.
//
// models/ sits below the process group (dist/): the sum across processes is handed in as a function by
// whoever owns the group (the trainer), globally for the run; without one, batch_norm is the plain one.

#include <functional>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>

namespace mmcl::models {

// In place: the element-wise sum of `t` over every process.
using SumAcrossProcesses = std::function<void(at::Tensor& t)>;

// Sets (or clears, with an empty function) the reduction synchronised BatchNorm uses; returns the previous one.
SumAcrossProcesses set_batchnorm_sync(SumAcrossProcesses sum);

// Batch normalisation over dimension 1 of x [N, C, ...] with `bn`'s parameters, buffers and options:
// synchronised across processes while training when a reduction is set, else bn's own forward.
at::Tensor batch_norm(torch::nn::BatchNorm1dImpl& bn, const at::Tensor& x);
at::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x);
at::Tensor batch_norm(torch::nn::BatchNorm3dImpl& bn, const at::Tensor& x);
// A Sequential's forward whose BatchNorm1d/2d/3d layers go through batch_norm.
at::Tensor forward_with_sync_bn(torch::nn::SequentialImpl& layers, at::Tensor x);

// The synchronised form itself, with the reduction set by set_batchnorm_sync (none: this process's
// batch alone), in the forward and again in the backward pass.
at::Tensor sync_batch_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           at::Tensor running_mean, at::Tensor running_var, double momentum, double eps);

}  // namespace mmcl::models

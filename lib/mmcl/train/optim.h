#pragma once
// The optimisers (AdamW with decoupled weight decay, fused by default; SGD with momentum; LARS), weight
// decay on weight matrices only, and the learning-rate schedule.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "mmcl/config/config.h"
#include "mmcl/core/precision.h"
#include "mmcl/train/grad_scaler.h"

namespace mmcl::train {

struct ParameterGroups {
  std::vector<at::Tensor> decay, no_decay;
  std::vector<std::string> decay_names, no_decay_names;
};

// open_clip's weight decay groups: none on tensors of fewer than two dimensions (biases, norms, the
// logit scale, class embeddings) or whose name holds "bn", "ln", "bias" or "logit_scale"; every other
// tensor, 2-D embeddings included, is decayed. Frozen tensors (no gradient) are in neither.
ParameterGroups split_parameters(const torch::nn::Module& model);

// LibTorch's AdamW (same options, state and checkpoint format) whose step runs ATen's fused AdamW kernel
// (at::_fused_adamw_, as torch.optim.AdamW(fused=True)) once per parameter group instead of about ten
// operations per parameter: on a GPU that is one launch instead of hundreds. Parameter groups whose
// tensors the kernel does not take (mixed devices or types, AMSGrad with sparse gradients) fall back to
// LibTorch's loop.
class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  // Per parameter, the step count as the float tensor on the parameter's device that the kernel reads,
  // with the value it mirrors (a resumed state replaces the counts).
  struct StepTensor {
    at::Tensor tensor;
    int64_t value = -1;
  };
  std::unordered_map<c10::TensorImpl*, StepTensor> steps_;
};

// LARS (You et al. 2017) as SimCLR's implementation, which CVRL uses: for the parameters of an adapted
// group, g' = g + wd w, trust = eta ||w|| / ||g'|| (1 where either norm is 0), v = m v + lr trust g',
// w -= v (Nesterov: w -= m v + lr trust g'). Groups not adapted (biases, norms) take the same step with
// trust 1. The state is SGD's (its momentum buffer holds v), so checkpoints save and load as SGD's.
class Lars : public torch::optim::SGD {
 public:
  Lars(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::SGDOptions defaults, double eta,
       std::vector<bool> adapt)
      : torch::optim::SGD(std::move(groups), defaults), eta_(eta), adapt_(std::move(adapt)) {}
  at::Tensor step(LossClosure closure = nullptr) override;

 private:
  double eta_;
  std::vector<bool> adapt_;  // per parameter group
};

// optim.name's optimiser over two groups: the weight matrices (decayed; LARS adapts them) and the rest
// (split_parameters: not decayed).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model, const config::OptimConfig& config);

// Linear warm-up from 0 over warmup_steps (open_clip's (step + 1) / warmup), then cosine from lr to
// min_lr at total_steps, or constant.
double learning_rate(const config::OptimConfig& config, int64_t step, int64_t total_steps);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Scales the gradients of `params` so their global L2 norm is at most `max_norm` (as
// torch.nn.utils.clip_grad_norm_), and returns that norm before clipping as a 0-dim tensor on the
// gradients' device. Unlike LibTorch's clip_grad_norm_, it never reads a value back to the host, so a
// step on a GPU does not wait for the device.
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// One optimiser step on the accumulated gradients of `model`'s parameters: with an enabled `scaler`
// (amp_fp16) they are unscaled first, and a step whose gradients are not finite is skipped (the scaler
// lowers its scale); with grad_clip > 0 they are clipped. Returns the norm before clipping (undefined
// without clipping).
at::Tensor step_optimizer(torch::optim::Optimizer& optimizer, const torch::nn::Module& model, GradScaler* scaler,
                          double grad_clip);

}  // namespace mmcl::train

#include "mmcl/train/optim.h"

#include <cmath>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/ops/_fused_adamw.h>
#include <ATen/record_function.h>

namespace mmcl::train {
namespace {

// open_clip's exclusion from weight decay (its main.py): a tensor of fewer than 2 dimensions, or one
// whose name holds "bn", "ln", "bias" or "logit_scale". Embeddings (2-D) are decayed, as there.
bool exempt_from_decay(const std::string& name, const at::Tensor& p) {
  if (p.dim() < 2) return true;
  for (const char* part : {"bn", "ln", "bias", "logit_scale"})
    if (name.find(part) != std::string::npos) return true;
  return false;
}

// An optimiser step's closure (the loss, recomputed with gradients on), if any.
at::Tensor evaluate(const torch::optim::Optimizer::LossClosure& closure) {
  if (!closure) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

}  // namespace

ParameterGroups split_parameters(const torch::nn::Module& model) {
  ParameterGroups groups;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const at::Tensor& p = item.value();
    if (!p.requires_grad()) continue;
    if (exempt_from_decay(item.key(), p)) {
      groups.no_decay.push_back(p);
      groups.no_decay_names.push_back(item.key());
    } else {
      groups.decay.push_back(p);
      groups.decay_names.push_back(item.key());
    }
  }
  return groups;
}

at::Tensor FusedAdamW::step(LossClosure closure) {
  at::NoGradGuard no_grad;
  const at::Tensor loss = evaluate(closure);
  std::vector<torch::optim::OptimizerParamGroup> unfused;  // groups the kernel does not take
  for (auto& group : param_groups_) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    std::vector<at::Tensor> params, grads;
    for (auto& p : group.params())
      if (p.grad().defined()) {
        params.push_back(p);
        grads.push_back(p.grad());
      }
    if (params.empty()) continue;
    const at::Tensor& first = params[0];
    bool fusable = (first.is_cpu() || first.is_cuda()) && at::isFloatingType(first.scalar_type());
    for (size_t i = 0; i < params.size() && fusable; ++i)
      fusable = !grads[i].is_sparse() && params[i].device() == first.device() &&
                params[i].scalar_type() == first.scalar_type() && grads[i].device() == first.device() &&
                grads[i].scalar_type() == first.scalar_type();
    if (!fusable) {
      unfused.push_back(group);
      continue;
    }
    std::vector<at::Tensor> exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;
    for (const at::Tensor& p : params) {
      auto* key = p.unsafeGetTensorImpl();
      auto found = state_.find(key);
      if (found == state_.end()) {  // as LibTorch's AdamW initialises it
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        if (options.amsgrad()) fresh->max_exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        found = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*found->second);
      StepTensor& st = steps_[key];
      if (st.value != state.step() || st.tensor.device() != p.device())  // new, or a loaded state
        st.tensor = at::full({}, static_cast<double>(state.step()), at::TensorOptions().dtype(at::kFloat).device(p.device()));
      state.step(state.step() + 1);
      st.value = state.step();
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      if (options.amsgrad()) max_exp_avg_sqs.push_back(state.max_exp_avg_sq());
      steps.push_back(st.tensor);
    }
    at::_foreach_add_(steps, 1);  // the kernel reads the count after this step, as torch.optim does
    const auto [beta1, beta2] = options.betas();
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, options.lr(), beta1, beta2,
                      options.weight_decay(), options.eps(), options.amsgrad(), /*maximize=*/false);
  }
  if (!unfused.empty()) {  // LibTorch's loop, on those groups alone
    std::vector<torch::optim::OptimizerParamGroup> all = std::move(param_groups_);
    param_groups_ = std::move(unfused);
    torch::optim::AdamW::step();
    param_groups_ = std::move(all);
  }
  return loss;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const torch::nn::Module& model, const config::OptimConfig& c) {
  ParameterGroups groups = split_parameters(model);
  if (c.name == OptimizerKind::sgd || c.name == OptimizerKind::lars) {
    auto options = [&](double weight_decay) {
      return torch::optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(weight_decay);
    };
    std::vector<torch::optim::OptimizerParamGroup> param_groups;
    param_groups.emplace_back(groups.decay, std::make_unique<torch::optim::SGDOptions>(options(c.weight_decay)));
    param_groups.emplace_back(groups.no_decay, std::make_unique<torch::optim::SGDOptions>(options(0.0)));
    if (c.name == OptimizerKind::lars)
      return std::make_unique<Lars>(std::move(param_groups), options(c.weight_decay), c.lars_eta,
                                    std::vector<bool>{true, false});
    return std::make_unique<torch::optim::SGD>(std::move(param_groups), options(c.weight_decay));
  }
  auto options = [&](double weight_decay) {
    return torch::optim::AdamWOptions(c.lr)
        .betas(std::make_tuple(c.betas[0], c.betas[1]))
        .eps(c.eps)
        .weight_decay(weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  param_groups.emplace_back(groups.decay, std::make_unique<torch::optim::AdamWOptions>(options(c.weight_decay)));
  param_groups.emplace_back(groups.no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
  if (c.fused) return std::make_unique<FusedAdamW>(std::move(param_groups), options(c.weight_decay));
  return std::make_unique<torch::optim::AdamW>(std::move(param_groups), options(c.weight_decay));
}

at::Tensor Lars::step(LossClosure closure) {
  at::NoGradGuard no_grad;
  const at::Tensor loss = evaluate(closure);
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    auto& group = param_groups_[g];
    auto& options = static_cast<torch::optim::SGDOptions&>(group.options());
    const bool adapt = g < adapt_.size() && adapt_[g];
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      at::Tensor update = p.grad().detach();
      if (options.weight_decay() != 0) update = update.add(p.detach(), options.weight_decay());
      double scale = options.lr();
      if (adapt) {
        // The layer's trust ratio eta ||w|| / ||g + wd w||, 1 where either norm is 0.
        const at::Tensor w_norm = at::linalg_vector_norm(p.detach(), 2), g_norm = at::linalg_vector_norm(update, 2);
        const at::Tensor trust = at::where(w_norm.gt(0).logical_and(g_norm.gt(0)), eta_ * w_norm / g_norm,
                                           at::ones_like(w_norm));
        update = update.mul(trust * scale);
      } else {
        update = update.mul(scale);
      }
      auto found = state_.find(p.unsafeGetTensorImpl());
      if (found == state_.end()) {
        auto fresh = std::make_unique<torch::optim::SGDParamState>();
        fresh->momentum_buffer(at::zeros_like(p, at::MemoryFormat::Preserve));
        found = state_.emplace(p.unsafeGetTensorImpl(), std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::SGDParamState&>(*found->second);
      at::Tensor& v = state.momentum_buffer();
      // SimCLR's LARS: the learning rate inside the momentum, v = m v + lr * trust * g; w -= v.
      v.mul_(options.momentum()).add_(update);
      p.detach().sub_(options.nesterov() ? v.mul(options.momentum()).add(update) : v);
    }
  }
  return loss;
}

double learning_rate(const config::OptimConfig& c, int64_t step, int64_t total_steps) {
  if (step < c.warmup_steps) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  if (c.schedule == LrSchedule::constant) return c.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - c.warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup_steps) / span);
  return c.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (c.lr - c.min_lr);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : params)
    if (p.grad().defined()) norms.push_back(at::linalg_vector_norm(p.grad().detach(), 2, c10::nullopt, false, at::kFloat));
  if (norms.empty()) return at::zeros({}, at::kFloat);
  const at::Tensor total = at::stack(norms).norm(2);
  // min(1, max_norm / (norm + 1e-6)), applied to every gradient whatever its value: no branch on the host.
  const at::Tensor coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const at::Tensor& p : params)
    if (p.grad().defined()) p.grad().detach().mul_(coef.to(p.grad().scalar_type()));
  return total;
}

at::Tensor step_optimizer(torch::optim::Optimizer& optimizer, const torch::nn::Module& model, GradScaler* scaler,
                          double grad_clip) {
  const bool scaled = scaler && scaler->enabled();
  // The parameter list only when something reads it.
  const std::vector<at::Tensor> params = scaled || grad_clip > 0 ? model.parameters() : std::vector<at::Tensor>{};
  const bool finite = !scaled || scaler->unscale(params);
  at::Tensor norm;
  if (grad_clip > 0) norm = clip_grad_norm(params, grad_clip);
  if (finite) {
    // A named scope for profilers (perf::OpProfiler, LibTorch's), as torch.optim names its steps.
    RECORD_USER_SCOPE("Optimizer.step");
    optimizer.step();
  }
  if (scaler) scaler->update(finite);
  return norm;
}

}  // namespace mmcl::train

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include "mmcl/losses/loss.h"
#include "mmcl/models/clip.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"
#include "fixtures.h"

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

CATCH_TEST_CASE("weight decay as open_clip: none on 1-D tensors, norms, biases and the logit scale", "[optim]") {
  mmcl::models::ClipImpl model(mmcl::test::micro_clip_config());
  const auto g = mmcl::train::split_parameters(model);
  for (const char* name : {"logit_scale", "visual.class_embedding", "ln_final.weight", "ln_final.bias",
                           "visual.transformer.resblocks.0.attn.in_proj_bias", "transformer.resblocks.0.ln_1.weight",
                           "transformer.resblocks.0.mlp.c_fc.bias"}) {
    CATCH_CAPTURE(name);
    CATCH_CHECK(contains(g.no_decay_names, name));
  }
  // 2-D embeddings are decayed, as open_clip's exclusion rule (ndim < 2, "bn", "ln", "bias", "logit_scale") leaves them.
  for (const char* name : {"token_embedding.weight", "positional_embedding", "visual.positional_embedding",
                           "visual.conv1.weight", "visual.proj", "text_projection",
                           "transformer.resblocks.0.attn.in_proj_weight", "transformer.resblocks.0.attn.out_proj.weight",
                           "visual.transformer.resblocks.0.mlp.c_fc.weight"}) {
    CATCH_CAPTURE(name);
    CATCH_CHECK(contains(g.decay_names, name));
  }
  CATCH_CHECK(g.decay.size() + g.no_decay.size() == model.parameters().size());

  // One AdamW step with zero gradients moves only decayed weights: w <- w (1 - lr wd).
  mmcl::config::OptimConfig oc;
  oc.lr = 0.1;
  oc.weight_decay = 0.5;
  auto optimizer = mmcl::train::make_optimizer(model, oc);
  const at::Tensor proj = model.text_projection.detach().clone();
  const at::Tensor scale = model.logit_scale.detach().clone();
  for (auto& p : model.parameters()) p.mutable_grad() = at::zeros_like(p);
  optimizer->step();
  CATCH_CHECK(at::allclose(model.text_projection, proj * (1 - 0.1 * 0.5)));
  CATCH_CHECK(at::equal(model.logit_scale, scale));
}

CATCH_TEST_CASE("warm-up then cosine learning rate", "[optim]") {
  mmcl::config::OptimConfig c;
  c.lr = 1.0;
  c.min_lr = 0.1;
  c.warmup_steps = 4;
  using mmcl::train::learning_rate;
  CATCH_CHECK(learning_rate(c, 0, 104) == Approx(0.25));
  CATCH_CHECK(learning_rate(c, 3, 104) == Approx(1.0));
  CATCH_CHECK(learning_rate(c, 4, 104) == Approx(1.0));
  CATCH_CHECK(learning_rate(c, 54, 104) == Approx(0.1 + 0.5 * 0.9));  // half-way: cos(pi/2) = 0
  CATCH_CHECK(learning_rate(c, 104, 104) == Approx(0.1));
  CATCH_CHECK(learning_rate(c, 29, 104) == Approx(0.1 + 0.5 * (1 + std::cos(M_PI * 0.25)) * 0.9));
  c.schedule = mmcl::LrSchedule::constant;
  CATCH_CHECK(learning_rate(c, 1, 104) == Approx(0.5));
  CATCH_CHECK(learning_rate(c, 90, 104) == Approx(1.0));
}

CATCH_TEST_CASE("gradient accumulation gives the gradient of the whole batch", "[optim]") {
  torch::manual_seed(4);
  mmcl::models::ClipImpl model(mmcl::test::micro_clip_config());
  const auto loss = mmcl::losses::make_loss({});
  const mmcl::data::Batch whole = mmcl::test::micro_clip_batch(6);

  auto gradients = [&](const std::vector<mmcl::data::Batch>& micro) {
    model.zero_grad();
    const auto stats = mmcl::train::forward_backward(model, *loss, micro);
    std::map<std::string, at::Tensor> grads;
    for (const auto& p : model.named_parameters()) grads[p.key()] = p.value().grad().clone();
    return std::make_pair(stats.loss.item<double>(), grads);
  };
  const auto [loss_one, one] = gradients({whole});
  const auto [loss_three, three] = gradients({whole.slice(0, 2), whole.slice(2, 4), whole.slice(4, 6)});
  CATCH_CHECK(loss_three == Approx(loss_one).epsilon(1e-5));
  for (const auto& [name, grad] : one) {
    CATCH_CAPTURE(name);
    // float32 sums in another order: compare relative to the gradient's size
    CATCH_CHECK((three.at(name) - grad).norm().item<double>() <= 1e-4 * grad.norm().item<double>() + 1e-7);
  }
  // Summing per-micro-batch losses instead would not match: each micro-batch sees fewer negatives.
  model.zero_grad();
  for (const auto& b : {whole.slice(0, 3), whole.slice(3, 6)}) (*loss)(model.forward(b)).total.backward();
  CATCH_CHECK(!at::allclose(model.text_projection.grad(), one.at("text_projection"), 1e-3, 1e-5));
}

CATCH_TEST_CASE("gradient clipping: the global norm in closed form, as torch's clip_grad_norm_", "[optim]") {
  // Gradients (3, 4) and (12): global norm sqrt(9 + 16 + 144) = 13.
  auto params = [] {
    std::vector<at::Tensor> p{at::zeros({2}, at::kFloat).requires_grad_(), at::zeros({1}, at::kFloat).requires_grad_(),
                              at::zeros({3}, at::kFloat).requires_grad_()};  // the last has no gradient
    p[0].mutable_grad() = at::tensor({3.0f, 4.0f});
    p[1].mutable_grad() = at::tensor({12.0f});
    return p;
  };
  const auto clipped = params();
  const at::Tensor norm = mmcl::train::clip_grad_norm(clipped, 6.5);
  CATCH_CHECK(norm.dim() == 0);
  CATCH_CHECK(norm.item<double>() == Approx(13.0).epsilon(1e-7));
  const double coef = 6.5 / (13.0 + 1e-6);
  CATCH_CHECK(clipped[0].grad()[0].item<double>() == Approx(3 * coef).epsilon(1e-6));
  CATCH_CHECK(clipped[0].grad()[1].item<double>() == Approx(4 * coef).epsilon(1e-6));
  CATCH_CHECK(clipped[1].grad()[0].item<double>() == Approx(12 * coef).epsilon(1e-6));
  CATCH_CHECK(!clipped[2].grad().defined());

  // Under the limit nothing changes.
  const auto kept = params();
  CATCH_CHECK(mmcl::train::clip_grad_norm(kept, 100.0).item<double>() == Approx(13.0).epsilon(1e-7));
  CATCH_CHECK(kept[0].grad()[1].item<float>() == 4.0f);
  CATCH_CHECK(kept[1].grad()[0].item<float>() == 12.0f);

  // Random gradients: the same norm and gradients as LibTorch's clip_grad_norm_.
  torch::manual_seed(3);
  std::vector<at::Tensor> a, b;
  for (int64_t n : {5, 17, 1}) {
    const at::Tensor g = at::randn({n});
    a.push_back(at::zeros({n}).requires_grad_());
    b.push_back(at::zeros({n}).requires_grad_());
    a.back().mutable_grad() = g.clone();
    b.back().mutable_grad() = g.clone();
  }
  const double ours = mmcl::train::clip_grad_norm(a, 0.5).item<double>();
  const double theirs = torch::nn::utils::clip_grad_norm_(b, 0.5);
  CATCH_CHECK(ours == Approx(theirs).epsilon(1e-6));
  for (size_t i = 0; i < a.size(); ++i) CATCH_CHECK(at::allclose(a[i].grad(), b[i].grad(), 1e-6, 1e-7));
}

namespace {

// Two groups (weight decay 0.1 and 0) of double parameters with the same random gradients each step.
struct TwoGroups {
  std::vector<at::Tensor> decay, no_decay;
  explicit TwoGroups(uint64_t seed) {
    torch::manual_seed(seed);
    decay = {at::randn({5, 3}, at::kDouble).requires_grad_(true), at::randn({4, 4}, at::kDouble).requires_grad_(true)};
    no_decay = {at::randn({3}, at::kDouble).requires_grad_(true)};
  }
  template <class Opt>
  std::unique_ptr<Opt> optimizer() const {
    auto options = [](double wd) {
      return torch::optim::AdamWOptions(3e-2).betas(std::make_tuple(0.9, 0.98)).eps(1e-6).weight_decay(wd);
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(options(0.1)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(options(0.0)));
    return std::make_unique<Opt>(std::move(groups), options(0.1));
  }
  std::vector<at::Tensor> all() const {
    std::vector<at::Tensor> v = decay;
    v.insert(v.end(), no_decay.begin(), no_decay.end());
    return v;
  }
};

void set_grads(const std::vector<at::Tensor>& params, int step) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(100 + step);
  for (const at::Tensor& p : params) p.mutable_grad() = at::randn(p.sizes(), gen, at::kDouble);
}

}  // namespace

CATCH_TEST_CASE("fused AdamW takes the steps of LibTorch's AdamW, also after a checkpoint", "[optim]") {
  TwoGroups a(11), b(11);
  auto plain = a.optimizer<torch::optim::AdamW>();
  auto fused = b.optimizer<mmcl::train::FusedAdamW>();
  for (int step = 0; step < 6; ++step) {
    set_grads(a.all(), step);
    set_grads(b.all(), step);
    if (step == 3) {  // the learning rate changes between steps, as the schedule does
      mmcl::train::set_learning_rate(*plain, 1e-2);
      mmcl::train::set_learning_rate(*fused, 1e-2);
    }
    plain->step();
    fused->step();
    for (size_t i = 0; i < a.all().size(); ++i) {
      CATCH_CAPTURE(step, i);
      CATCH_CHECK((a.all()[i] - b.all()[i]).abs().max().item<double>() < 1e-12);
    }
  }
  // The state is LibTorch's AdamW state: saved from the fused optimiser, loaded into a new one (as a
  // resumed run does), and two more steps agree with the plain optimiser.
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive out;
    fused->save(out);
    out.save_to(buffer);
  }
  TwoGroups c(12);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < c.all().size(); ++i) c.all()[i].copy_(b.all()[i]);
  }
  auto resumed = c.optimizer<mmcl::train::FusedAdamW>();
  mmcl::train::set_learning_rate(*resumed, 1e-2);
  {
    torch::serialize::InputArchive in;
    in.load_from(buffer);
    resumed->load(in);
  }
  for (int step = 6; step < 8; ++step) {
    set_grads(a.all(), step);
    set_grads(c.all(), step);
    plain->step();
    resumed->step();
  }
  for (size_t i = 0; i < a.all().size(); ++i) CATCH_CHECK((a.all()[i] - c.all()[i]).abs().max().item<double>() < 1e-12);
  // Without the restored step counts the bias corrections differ: the comparison can fail.
  TwoGroups d(12);
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < d.all().size(); ++i) d.all()[i].copy_(b.all()[i]);
  }
  auto fresh = d.optimizer<mmcl::train::FusedAdamW>();
  mmcl::train::set_learning_rate(*fresh, 1e-2);
  set_grads(d.all(), 6);
  fresh->step();
  CATCH_CHECK((a.all()[0] - d.all()[0]).abs().max().item<double>() > 1e-6);
}

CATCH_TEST_CASE("make_optimizer fuses unless optim.fused is false", "[optim]") {
  mmcl::models::ClipImpl model(mmcl::test::micro_clip_config());
  mmcl::config::OptimConfig c;
  CATCH_CHECK(dynamic_cast<mmcl::train::FusedAdamW*>(mmcl::train::make_optimizer(model, c).get()) != nullptr);
  c.fused = false;
  CATCH_CHECK(dynamic_cast<mmcl::train::FusedAdamW*>(mmcl::train::make_optimizer(model, c).get()) == nullptr);
}

CATCH_TEST_CASE("SGD with momentum and LARS take the steps of their formulas", "[optim]") {
  // A weight matrix (decayed; LARS adapts it) and a bias (neither), with fixed gradients for two steps.
  torch::nn::Linear layer(torch::nn::LinearOptions(3, 2));
  {
    torch::NoGradGuard no_grad;
    layer->weight.copy_(at::tensor({0.5, -1.0, 2.0, 0.25, 1.5, -0.75}, at::kFloat).view({2, 3}));
    layer->bias.copy_(at::tensor({0.1, -0.2}, at::kFloat));
  }
  const at::Tensor gw = at::tensor({0.3, 0.1, -0.2, 0.05, -0.4, 0.6}, at::kFloat).view({2, 3});
  const at::Tensor gb = at::tensor({0.7, -0.1}, at::kFloat);
  const double lr = 0.5, wd = 0.01, m = 0.9, eta = 0.001;
  using mmcl::OptimizerKind;
  for (const OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::lars}) {
    CATCH_CAPTURE(kind);
    torch::nn::Linear net(torch::nn::LinearOptions(3, 2));
    {
      torch::NoGradGuard no_grad;
      net->weight.copy_(layer->weight);
      net->bias.copy_(layer->bias);
    }
    mmcl::config::OptimConfig c;
    c.name = kind;
    c.lr = lr;
    c.weight_decay = wd;
    c.momentum = m;
    c.lars_eta = eta;
    auto opt = mmcl::train::make_optimizer(*net, c);
    at::Tensor w = layer->weight.detach().to(at::kDouble), b = layer->bias.detach().to(at::kDouble);
    at::Tensor vw = at::zeros_like(w), vb = at::zeros_like(b);
    for (int step = 0; step < 2; ++step) {
      net->weight.mutable_grad() = gw.clone();
      net->bias.mutable_grad() = gb.clone();
      opt->step();
      const at::Tensor g = gw.to(at::kDouble) + wd * w;  // L2 decay on the matrix only
      if (kind == OptimizerKind::sgd) {  // PyTorch's SGD: v = m v + g (v = g at first), w -= lr v
        vw = step == 0 ? g : m * vw + g;
        vb = step == 0 ? gb.to(at::kDouble) : m * vb + gb.to(at::kDouble);
        w = w - lr * vw;
        b = b - lr * vb;
      } else {  // LARS: v = m v + lr * trust * g, w -= v; the bias with trust 1
        const double trust = eta * w.norm().item<double>() / g.norm().item<double>();
        vw = m * vw + lr * trust * g;
        vb = m * vb + lr * gb.to(at::kDouble);
        w = w - vw;
        b = b - vb;
      }
      CATCH_CHECK(at::allclose(net->weight.detach().to(at::kDouble), w, 1e-6, 1e-7));
      CATCH_CHECK(at::allclose(net->bias.detach().to(at::kDouble), b, 1e-6, 1e-7));
    }
    // The schedule reaches every group.
    mmcl::train::set_learning_rate(*opt, 0.125);
    for (auto& group : opt->param_groups()) CATCH_CHECK(group.options().get_lr() == 0.125);
  }
}

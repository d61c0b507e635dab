#include "mmcl/models/sparsemax.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace mmcl::models {
namespace {

// The threshold tau(z) of each row: with z sorted descending, k(z) = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)}
// and tau = (sum_{j<=k(z)} z_(j) - 1) / k(z).
at::Tensor threshold(const at::Tensor& z) {
  const at::Tensor sorted = std::get<0>(z.sort(-1, /*descending=*/true));
  const at::Tensor cumulative = sorted.cumsum(-1);
  const at::Tensor k = at::arange(1, z.size(-1) + 1, z.options());
  const at::Tensor in_support = (1 + k * sorted).gt(cumulative);  // true for a prefix of each row
  const at::Tensor support = in_support.sum(-1, /*keepdim=*/true);  // k(z) >= 1
  return (cumulative.gather(-1, support - 1) - 1) / support.to(z.scalar_type());
}

struct SparsemaxFunction : torch::autograd::Function<SparsemaxFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& z) {
    const at::Tensor p = (z - threshold(z)).clamp_min(0);
    ctx->save_for_backward({p});
    return p;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const at::Tensor p = ctx->get_saved_variables()[0];
    const at::Tensor support = p.gt(0).to(grad[0].scalar_type());
    const at::Tensor mean = (grad[0] * support).sum(-1, true) / support.sum(-1, true);
    return {(grad[0] - mean) * support};
  }
};

}  // namespace

at::Tensor sparsemax(const at::Tensor& z) {
  TORCH_CHECK(z.dim() >= 1 && z.size(-1) > 0, "sparsemax: needs a non-empty last dimension");
  return SparsemaxFunction::apply(z);
}

}  // namespace mmcl::models

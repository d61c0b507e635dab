#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"

namespace mmcl::losses {

at::Tensor infonce(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale) {
  MMCL_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "infonce: expected two [N, D] tensors of equal shape, got ",
             a.sizes(), " and ", b.sizes());
  // The loss is computed in fp32 at least, whatever the precision of the embeddings.
  const auto dtype = at::promote_types(a.scalar_type(), at::kFloat);
  const at::Tensor logits = scale.to(dtype) * at::matmul(a.to(dtype), b.to(dtype).t());
  const at::Tensor labels = at::arange(a.size(0), logits.options().dtype(at::kLong));
  return (at::cross_entropy_loss(logits, labels) + at::cross_entropy_loss(logits.t(), labels)) / 2;
}

namespace {

class InfoNce : public Loss {
 public:
  LossOutput operator()(const models::Embeddings& e) const override {
    LossOutput out;
    out.total = infonce(e.at("image"), e.at("text"), e.logit_scale);
    return out;
  }
};

}  // namespace

std::shared_ptr<const Loss> make_infonce() { return std::make_shared<InfoNce>(); }

}  // namespace mmcl::losses

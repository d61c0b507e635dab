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

at::Tensor infonce_rows(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale, int64_t begin,
                        int64_t end) {
  MMCL_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "infonce: expected two [N, D] tensors of equal shape, got ",
             a.sizes(), " and ", b.sizes());
  MMCL_CHECK(0 <= begin && begin < end && end <= a.size(0), "infonce: rows [", begin, ", ", end, ") outside [0, ",
             a.size(0), ")");
  const auto dtype = at::promote_types(a.scalar_type(), at::kFloat);
  const at::Tensor a32 = a.to(dtype), b32 = b.to(dtype), s = scale.to(dtype);
  const at::Tensor labels = at::arange(begin, end, a32.options().dtype(at::kLong));
  const at::Tensor a_to_b = s * at::matmul(a32.slice(0, begin, end), b32.t());
  const at::Tensor b_to_a = s * at::matmul(b32.slice(0, begin, end), a32.t());
  return (at::cross_entropy_loss(a_to_b, labels) + at::cross_entropy_loss(b_to_a, labels)) / 2;
}

namespace {

class InfoNce : public Loss {
 public:
  LossOutput operator()(const models::Embeddings& e) const override {
    LossOutput out;
    out.total = infonce(e.at("image"), e.at("text"), e.logit_scale);
    return out;
  }
  LossOutput local(const models::Embeddings& e, int64_t begin, int64_t end) const override {
    LossOutput out;
    out.total = infonce_rows(e.at("image"), e.at("text"), e.logit_scale, begin, end);
    return out;
  }
};

}  // namespace

std::shared_ptr<const Loss> make_infonce() { return std::make_shared<InfoNce>(); }

}  // namespace mmcl::losses

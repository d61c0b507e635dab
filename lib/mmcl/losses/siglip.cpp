#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"

namespace mmcl::losses {

at::Tensor siglip(const at::Tensor& a, const at::Tensor& b, const at::Tensor& scale, const at::Tensor& bias,
                  int64_t begin, int64_t end) {
  MMCL_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "siglip: expected two [N, D] tensors of equal shape, got ",
             a.sizes(), " and ", b.sizes());
  if (end < 0) end = a.size(0);
  MMCL_CHECK(0 <= begin && begin < end && end <= a.size(0), "siglip: rows [", begin, ", ", end, ") outside [0, ",
             a.size(0), ")");
  MMCL_CHECK(bias.defined(), "siglip: the model has no logit bias (set model.logit_bias: true)");
  const auto dtype = at::promote_types(a.scalar_type(), at::kFloat);
  const at::Tensor logits =
      scale.to(dtype) * at::matmul(a.to(dtype).slice(0, begin, end), b.to(dtype).t()) + bias.to(dtype);  // [n, N]
  // +1 on the pairs (row r is sample begin + r), -1 everywhere else.
  const int64_t n = end - begin;
  at::Tensor sign = at::full(logits.sizes(), -1.0, logits.options());
  sign.diagonal(begin).fill_(1.0);
  return -at::log_sigmoid(sign * logits).sum() / static_cast<double>(n);
}

namespace {

class Siglip : public Loss {
 public:
  LossOutput operator()(const models::Embeddings& e) const override {
    LossOutput out;
    out.total = siglip(e.at("image"), e.at("text"), e.logit_scale, e.logit_bias);
    return out;
  }
  LossOutput local(const models::Embeddings& e, int64_t begin, int64_t end) const override {
    LossOutput out;
    out.total = siglip(e.at("image"), e.at("text"), e.logit_scale, e.logit_bias, begin, end);
    return out;
  }
};

}  // namespace

std::shared_ptr<const Loss> make_siglip() { return std::make_shared<Siglip>(); }

}  // namespace mmcl::losses

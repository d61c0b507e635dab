#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"

namespace mmcl::losses {

at::Tensor ntxent(const at::Tensor& a, const at::Tensor& b, double temperature, int64_t begin, int64_t end) {
  MMCL_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "ntxent: expected two [N, D] tensors of equal shape, got ",
             a.sizes(), " and ", b.sizes());
  const int64_t n = a.size(0);
  if (end < 0) end = n;
  MMCL_CHECK(0 <= begin && begin < end && end <= n, "ntxent: rows [", begin, ", ", end, ") outside [0, ", n, ")");
  MMCL_CHECK(temperature > 0, "ntxent: the temperature must be positive");
  const auto dtype = at::promote_types(a.scalar_type(), at::kFloat);
  const at::Tensor z = at::cat({a, b}, 0).to(dtype);  // [2N, D]
  const at::Tensor rows = at::cat({at::arange(begin, end, at::kLong), at::arange(n + begin, n + end, at::kLong)})
                              .to(z.device());
  at::Tensor logits = at::matmul(z.index_select(0, rows), z.t()) / temperature;  // [2R, 2N]
  // A view is not its own negative.
  logits = logits.index_put({at::arange(rows.size(0), rows.options()), rows}, at::full({}, -INFINITY, logits.options()));  // under autocast logits are bfloat16/float16
  const at::Tensor partner = at::where(rows < n, rows + n, rows - n);
  return at::cross_entropy_loss(logits, partner);
}

namespace {

// The two views' embeddings: SimCLR's "image" and "image_2", or CVRL's "video" and "video_2".
std::pair<const at::Tensor&, const at::Tensor&> views(const models::Embeddings& e) {
  for (const char* m : {"image", "video"})
    if (e.by_modality.count(std::string(m) + "_2")) return {e.at(m), e.at(std::string(m) + "_2")};
  throw Error("ntxent: the model produced no second view (image_2 or video_2); it needs two views per sample");
}

class NtXent : public Loss {
 public:
  explicit NtXent(double temperature) : temperature_(temperature) {}
  LossOutput operator()(const models::Embeddings& e) const override {
    LossOutput out;
    const auto [a, b] = views(e);
    out.total = ntxent(a, b, temperature_);
    return out;
  }
  LossOutput local(const models::Embeddings& e, int64_t begin, int64_t end) const override {
    LossOutput out;
    const auto [a, b] = views(e);
    out.total = ntxent(a, b, temperature_, begin, end);
    return out;
  }

 private:
  double temperature_;
};

}  // namespace

std::shared_ptr<const Loss> make_ntxent(double temperature) { return std::make_shared<NtXent>(temperature); }

}  // namespace mmcl::losses

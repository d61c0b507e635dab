// VATT's loss (Akbari et al. 2021): L = NCE(video, audio) + mil_weight * MIL-NCE(video, its captions),
// each in its own common space (video_va/audio and video/text); with normalize_weights divided by
// 1 + mil_weight, and with asymmetric_nce the NCE in the official code's form (MIL-NCE with one
// audio per video: one log-sum-exp over both directions).

#include <cmath>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"

namespace mmcl::losses {

at::Tensor nce(const at::Tensor& a, const at::Tensor& b, double temperature, int64_t begin, int64_t end) {
  MMCL_CHECK(temperature > 0, "nce: the temperature must be positive");
  const auto dtype = at::promote_types(a.scalar_type(), at::kFloat);
  const at::Tensor scale = at::scalar_tensor(1.0 / temperature, a.options().dtype(dtype));
  if (begin == 0 && (end < 0 || end == a.size(0))) return infonce(a, b, scale);
  return infonce_rows(a, b, scale, begin, end < 0 ? a.size(0) : end);
}

at::Tensor mil_nce(const at::Tensor& video, const at::Tensor& text, const at::Tensor& valid, double temperature,
                   int64_t begin, int64_t end) {
  MMCL_CHECK(video.dim() == 2, "mil_nce: expected video embeddings [B, D], got ", video.sizes());
  const int64_t b = video.size(0), d = video.size(1);
  MMCL_CHECK((text.dim() == 2 || text.dim() == 3) && text.size(0) == b && text.size(-1) == d,
             "mil_nce: expected text embeddings [", b, ", K, ", d, "] or [", b, ", ", d, "], got ", text.sizes());
  const int64_t k = text.dim() == 3 ? text.size(1) : 1;
  MMCL_CHECK(!valid.defined() || (valid.dim() == 2 && valid.size(0) == b && valid.size(1) == k),
             "mil_nce: expected a caption mask [", b, ", ", k, "], got ", valid.sizes());
  if (end < 0) end = b;
  MMCL_CHECK(0 <= begin && begin < end && end <= b, "mil_nce: rows [", begin, ", ", end, ") outside [0, ", b, ")");
  MMCL_CHECK(temperature > 0, "mil_nce: the temperature must be positive");

  const auto dtype = at::promote_types(video.scalar_type(), at::kFloat);
  const at::Tensor v = video.to(dtype);
  const at::Tensor t = text.to(dtype).reshape({b, k, d});
  const at::Tensor real = valid.defined() ? (valid.to(v.device()) > 0)
                                          : at::ones({b, k}, v.options().dtype(at::kBool));
  // The rows of [begin, end) with a caption; the others (no text for that sample) are left out. Selecting
  // them before the log-sum-exps keeps every log-sum-exp over at least one finite term, so the -inf of the
  // padding never meets another -inf and the gradients stay finite.
  const at::Tensor rows = at::nonzero(real.slice(0, begin, end).any(1)).squeeze(1) + begin;
  const int64_t r = rows.size(0);
  if (r == 0) return (v.sum() + t.sum()) * 0;

  const at::Tensor vr = v.index_select(0, rows), tr = t.index_select(0, rows), real_r = real.index_select(0, rows);
  const double neg_inf = -INFINITY;
  // x[i][j][k] for the selected i: each video against every caption, [R, B, K].
  const at::Tensor video_to_text =
      (at::matmul(vr, t.reshape({b * k, d}).t()) / temperature).view({r, b, k}).masked_fill(~real.unsqueeze(0), neg_inf);
  // x[j][i][k] for the selected i: each of its captions against every video, [R, K, B].
  const at::Tensor text_to_video =
      (at::matmul(tr, v.t()) / temperature).masked_fill(~real_r.unsqueeze(2), neg_inf);
  const at::Tensor positives = video_to_text.gather(1, rows.view({r, 1, 1}).expand({r, 1, k})).squeeze(1);  // [R, K]
  const at::Tensor numerator = at::logsumexp(positives, {1});
  const at::Tensor denominator =
      at::logsumexp(at::cat({video_to_text.reshape({r, b * k}), text_to_video.reshape({r, k * b})}, 1), {1});
  return (denominator - numerator).mean();
}

namespace {

class VattLoss : public Loss {
 public:
  VattLoss(double temperature, double mil_weight, bool asymmetric, bool normalize)
      : temperature_(temperature), mil_weight_(mil_weight), asymmetric_(asymmetric), normalize_(normalize) {}

  LossOutput operator()(const models::Embeddings& e) const override { return compute(e, 0, -1); }
  // The row forms of both terms. With every sample captioned the mean over equal row blocks is the loss of
  // the whole batch; with missing captions the blocks' MIL-NCE terms are weighted by their rows, not by
  // their captioned rows, so the mean may differ from the whole-batch MIL-NCE.
  LossOutput local(const models::Embeddings& e, int64_t begin, int64_t end) const override {
    return compute(e, begin, end);
  }

 private:
  LossOutput compute(const models::Embeddings& e, int64_t begin, int64_t end) const {
    const auto& m = e.by_modality;
    LossOutput out;
    if (m.count("audio")) {
      out.terms["nce"] = asymmetric_ ? mil_nce(e.at("video_va"), e.at("audio"), at::Tensor(), temperature_, begin, end)
                                     : nce(e.at("video_va"), e.at("audio"), temperature_, begin, end);
      out.total = out.terms["nce"];
    }
    if (m.count("text")) {
      const auto mask = m.find("text_mask");
      const at::Tensor valid = mask == m.end() ? at::Tensor() : mask->second;
      const at::Tensor term = mil_nce(e.at("video"), e.at("text"), valid, temperature_, begin, end);
      out.terms["mil_nce"] = term;
      out.total = out.total.defined() ? out.total + mil_weight_ * term : mil_weight_ * term;
    }
    MMCL_CHECK(out.total.defined(), "vatt: the model produced neither audio nor text embeddings");
    const double weights = (m.count("audio") ? 1.0 : 0.0) + (m.count("text") ? mil_weight_ : 0.0);
    if (normalize_ && weights > 0) out.total = out.total / weights;
    return out;
  }

  double temperature_;
  double mil_weight_;
  bool asymmetric_, normalize_;
};

}  // namespace

std::shared_ptr<const Loss> make_vatt(const config::LossConfig& c) {
  const double temperature = c.temperature > 0 ? c.temperature : 0.07;
  MMCL_CHECK(c.mil_weight >= 0, "vatt: loss.mil_weight must not be negative");
  return std::make_shared<VattLoss>(temperature, c.mil_weight, c.asymmetric_nce, c.normalize_weights);
}

}  // namespace mmcl::losses

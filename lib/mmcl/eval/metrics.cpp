#include "mmcl/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"

namespace mmcl::eval {

ClassificationMetrics classification_metrics(const at::Tensor& logits, const at::Tensor& labels) {
  MMCL_CHECK(logits.dim() == 2 && labels.dim() == 1 && logits.size(0) == labels.size(0),
             "classification_metrics: logits [N, C] and labels [N] expected");
  const int64_t n = logits.size(0), c = logits.size(1);
  ClassificationMetrics m;
  m.samples = n;
  m.confusion.assign(static_cast<size_t>(c), std::vector<int64_t>(static_cast<size_t>(c), 0));
  const at::Tensor scores = logits.to(at::kDouble).cpu().contiguous();
  const at::Tensor truth = labels.to(at::kLong).cpu().contiguous();
  const auto s = scores.accessor<double, 2>();
  const auto y = truth.accessor<int64_t, 1>();
  std::vector<int64_t> correct(static_cast<size_t>(c), 0), count(static_cast<size_t>(c), 0);
  int64_t top1 = 0, top5 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = y[i];
    MMCL_CHECK(label >= 0 && label < c, "label ", label, " outside the ", c, " classes");
    // Rank of the true class: classes scoring strictly higher, plus ties counted against the model.
    int64_t ahead = 0, predicted = 0;
    for (int64_t k = 0; k < c; ++k) {
      if (k != label && s[i][k] >= s[i][label]) ++ahead;
      if (s[i][k] > s[i][predicted]) predicted = k;
    }
    if (ahead == 0) predicted = label;
    top1 += ahead == 0;
    top5 += ahead < 5;
    ++count[static_cast<size_t>(label)];
    correct[static_cast<size_t>(label)] += ahead == 0;
    ++m.confusion[static_cast<size_t>(label)][static_cast<size_t>(predicted)];
  }
  m.top1 = n ? static_cast<double>(top1) / static_cast<double>(n) : 0;
  m.top5 = n ? static_cast<double>(top5) / static_cast<double>(n) : 0;
  for (int64_t k = 0; k < c; ++k)
    m.per_class.push_back(count[static_cast<size_t>(k)]
                              ? static_cast<double>(correct[static_cast<size_t>(k)]) / static_cast<double>(count[static_cast<size_t>(k)])
                              : std::numeric_limits<double>::quiet_NaN());
  return m;
}

void retrieval_ranks(const at::Tensor& similarity, const std::vector<int64_t>& owner, std::vector<int64_t>& image_ranks,
                     std::vector<int64_t>& text_ranks) {
  MMCL_CHECK(similarity.dim() == 2 && static_cast<size_t>(similarity.size(1)) == owner.size(),
             "retrieval: similarity [images, texts] and one owner per text expected");
  const int64_t ni = similarity.size(0), nt = similarity.size(1);
  const at::Tensor sim = similarity.to(at::kDouble).cpu().contiguous();
  const auto s = sim.accessor<double, 2>();
  text_ranks.assign(static_cast<size_t>(nt), 0);
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t own = owner[static_cast<size_t>(t)];
    MMCL_CHECK(own >= 0 && own < ni, "caption ", t, " belongs to image ", own, " of ", ni);
    int64_t ahead = 0;
    for (int64_t i = 0; i < ni; ++i) ahead += (i != own && s[i][t] >= s[own][t]);
    text_ranks[static_cast<size_t>(t)] = ahead + 1;
  }
  image_ranks.assign(static_cast<size_t>(ni), 0);
  for (int64_t i = 0; i < ni; ++i) {
    double best = -std::numeric_limits<double>::infinity();
    bool has_caption = false;
    for (int64_t t = 0; t < nt; ++t)
      if (owner[static_cast<size_t>(t)] == i) best = std::max(best, s[i][t]), has_caption = true;
    MMCL_CHECK(has_caption, "image ", i, " has no caption");
    int64_t ahead = 0;
    for (int64_t t = 0; t < nt; ++t) ahead += (owner[static_cast<size_t>(t)] != i && s[i][t] >= best);
    image_ranks[static_cast<size_t>(i)] = ahead + 1;
  }
}

double median(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? static_cast<double>(v[m]) : (static_cast<double>(v[m - 1]) + static_cast<double>(v[m])) / 2;
}

RetrievalMetrics retrieval_metrics(const at::Tensor& similarity, const std::vector<int64_t>& owner) {
  std::vector<int64_t> image_ranks, text_ranks;
  retrieval_ranks(similarity, owner, image_ranks, text_ranks);
  auto recall = [](const std::vector<int64_t>& ranks, int64_t k) {
    const auto hits = std::count_if(ranks.begin(), ranks.end(), [k](int64_t r) { return r <= k; });
    return ranks.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(ranks.size());
  };
  RetrievalMetrics m;
  m.image_to_text_r1 = recall(image_ranks, 1);
  m.image_to_text_r5 = recall(image_ranks, 5);
  m.image_to_text_r10 = recall(image_ranks, 10);
  m.image_to_text_median_rank = median(image_ranks);
  m.text_to_image_r1 = recall(text_ranks, 1);
  m.text_to_image_r5 = recall(text_ranks, 5);
  m.text_to_image_r10 = recall(text_ranks, 10);
  m.text_to_image_median_rank = median(text_ranks);
  m.rsum = 100 * (m.image_to_text_r1 + m.image_to_text_r5 + m.image_to_text_r10 + m.text_to_image_r1 +
                  m.text_to_image_r5 + m.text_to_image_r10);
  return m;
}

}  // namespace mmcl::eval

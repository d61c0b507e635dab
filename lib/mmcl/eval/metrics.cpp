#include "mmcl/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"

namespace mmcl::eval {

namespace {
// Indices of `scores` by descending score.
std::vector<size_t> descending(const std::vector<double>& scores) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}
}  // namespace

double average_precision(const std::vector<double>& scores, const std::vector<int>& positive) {
  MMCL_CHECK(scores.size() == positive.size(), "average_precision: scores and labels differ in length");
  const int64_t positives = std::count_if(positive.begin(), positive.end(), [](int p) { return p != 0; });
  if (positives == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<size_t> order = descending(scores);
  double ap = 0, recall = 0;
  int64_t tp = 0, seen = 0;
  for (size_t i = 0; i < order.size();) {
    // One threshold per distinct score: every tied sample is in or out together.
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      tp += positive[order[j]] != 0;
      ++seen;
      ++j;
    }
    const double r = static_cast<double>(tp) / static_cast<double>(positives);
    ap += (r - recall) * static_cast<double>(tp) / static_cast<double>(seen);
    recall = r;
    i = j;
  }
  return ap;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& positive) {
  MMCL_CHECK(scores.size() == positive.size(), "roc_auc: scores and labels differ in length");
  const std::vector<size_t> order = descending(scores);
  // Average ranks (1 = lowest score) of tied groups; the positives' rank sum gives Mann-Whitney's U.
  const auto n = static_cast<double>(scores.size());
  double rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    int64_t group_pos = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) group_pos += positive[order[j++]] != 0;
    // Descending positions i..j-1 are ascending ranks n - j + 1 .. n - i; their mean:
    const double rank = n - (static_cast<double>(i) + static_cast<double>(j) - 1) / 2;
    rank_sum += rank * static_cast<double>(group_pos);
    positives += group_pos;
    i = j;
  }
  const auto p = static_cast<double>(positives), q = n - p;
  if (p == 0 || q == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - p * (p + 1) / 2) / (p * q);
}

double d_prime(double auc) {
  // Phi^-1(a) = sqrt(2) erfinv(2a - 1), so d' = 2 erfinv(2 auc - 1).
  return 2 * at::erfinv(at::scalar_tensor(2 * auc - 1, at::kDouble)).item<double>();
}

MultiLabelMetrics multilabel_metrics(const at::Tensor& scores_in, const at::Tensor& targets_in) {
  MMCL_CHECK(scores_in.dim() == 2 && scores_in.sizes() == targets_in.sizes(),
             "multilabel_metrics: scores and targets [N, C] of one shape expected");
  const at::Tensor scores = scores_in.to(at::kDouble).cpu().t().contiguous();
  const at::Tensor targets = targets_in.to(at::kDouble).cpu().t().contiguous();
  const int64_t n = scores.size(1), c = scores.size(0);
  MultiLabelMetrics m;
  m.samples = n;
  double ap_sum = 0, auc_sum = 0;
  int64_t ap_count = 0, auc_count = 0;
  for (int64_t k = 0; k < c; ++k) {
    const double* s = scores[k].data_ptr<double>();
    const double* t = targets[k].data_ptr<double>();
    const std::vector<double> sv(s, s + n);
    std::vector<int> pv(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) pv[static_cast<size_t>(i)] = t[i] > 0.5;
    m.ap.push_back(average_precision(sv, pv));
    m.auc.push_back(roc_auc(sv, pv));
    if (!std::isnan(m.ap.back())) ap_sum += m.ap.back(), ++ap_count;
    if (!std::isnan(m.auc.back())) auc_sum += m.auc.back(), ++auc_count;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  m.map = ap_count ? ap_sum / static_cast<double>(ap_count) : nan;
  m.mean_auc = auc_count ? auc_sum / static_cast<double>(auc_count) : nan;
  m.d_prime = auc_count ? d_prime(m.mean_auc) : nan;
  return m;
}

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

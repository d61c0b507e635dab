#include <cmath>

#include <ATen/ATen.h>

#include "mmcl/eval/metrics.h"
#include "util.h"

using namespace mmcl::eval;

CATCH_TEST_CASE("retrieval ranks and recalls on a hand-computed case with ties and several captions", "[eval]") {
  // 3 images; captions 0,1 -> image 0, caption 2 -> image 1, caption 3 -> image 2.
  const std::vector<int64_t> owner{0, 0, 1, 3 - 1};
  const at::Tensor sim = at::tensor({0.9, 0.1, 0.5, 0.2,    // image 0: its best caption (0.9) is first
                                     0.8, 0.3, 0.3, 0.9,    // image 1: caption 2 (0.3) behind 0.8, 0.9 and the tie 0.3
                                     0.0, 0.2, 0.1, 0.7},   // image 2: caption 3 first
                                    at::kDouble).view({3, 4});
  std::vector<int64_t> image_ranks, text_ranks;
  retrieval_ranks(sim, owner, image_ranks, text_ranks);
  CATCH_CHECK(image_ranks == std::vector<int64_t>{1, 4, 1});
  // caption 0: image 0 (0.9) best -> 1; caption 1: 0.1 vs 0.3 and 0.2 -> 3; caption 2: 0.3 vs 0.5 -> 2;
  // caption 3: 0.7 vs 0.2 and 0.9 -> 2
  CATCH_CHECK(text_ranks == std::vector<int64_t>{1, 3, 2, 2});

  const auto m = retrieval_metrics(sim, owner);
  CATCH_CHECK(m.image_to_text_r1 == Approx(2.0 / 3));
  CATCH_CHECK(m.image_to_text_r5 == Approx(1.0));
  CATCH_CHECK(m.image_to_text_median_rank == Approx(1.0));
  CATCH_CHECK(m.text_to_image_r1 == Approx(0.25));
  CATCH_CHECK(m.text_to_image_r5 == Approx(1.0));
  CATCH_CHECK(m.text_to_image_median_rank == Approx(2.0));
  CATCH_CHECK(m.rsum == Approx(100 * (2.0 / 3 + 1 + 1 + 0.25 + 1 + 1)));
}

CATCH_TEST_CASE("ties count against the model", "[eval]") {
  const at::Tensor sim = at::ones({2, 2});
  std::vector<int64_t> image_ranks, text_ranks;
  retrieval_ranks(sim, {0, 1}, image_ranks, text_ranks);
  CATCH_CHECK(image_ranks == std::vector<int64_t>{2, 2});
  CATCH_CHECK(text_ranks == std::vector<int64_t>{2, 2});
  const auto c = classification_metrics(at::zeros({3, 4}), at::tensor({0, 1, 2}, at::kLong));
  CATCH_CHECK(c.top1 == 0);
  CATCH_CHECK(c.top5 == 1);
}

CATCH_TEST_CASE("classification accuracy, per-class accuracy and confusion matrix", "[eval]") {
  const at::Tensor logits = at::tensor({0.1, 0.7, 0.2,    // label 1: correct
                                        0.6, 0.3, 0.1,    // label 1: predicted 0, true class second
                                        0.2, 0.3, 0.5,    // label 2: correct
                                        0.5, 0.4, 0.45},  // label 0: correct
                                       at::kDouble).view({4, 3});
  const auto m = classification_metrics(logits, at::tensor({1, 1, 2, 0}, at::kLong));
  CATCH_CHECK(m.samples == 4);
  CATCH_CHECK(m.top1 == Approx(0.75));
  CATCH_CHECK(m.top5 == Approx(1.0));
  CATCH_CHECK(m.per_class == std::vector<double>{1.0, 0.5, 1.0});
  CATCH_CHECK(m.confusion == std::vector<std::vector<int64_t>>{{1, 0, 0}, {1, 1, 0}, {0, 0, 1}});
  const auto empty_class = classification_metrics(logits.slice(0, 0, 2), at::tensor({1, 1}, at::kLong));
  CATCH_CHECK(std::isnan(empty_class.per_class[0]));
}

CATCH_TEST_CASE("average precision, ROC AUC and d-prime against hand computation, with ties", "[eval]") {
  // scikit-learn's documented example: AP 0.8333, AUC 0.75.
  CATCH_CHECK(average_precision({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}) == Approx(5.0 / 6.0));
  CATCH_CHECK(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}) == Approx(0.75));
  // Ties form one threshold: scores {0.9, 0.5, 0.5, 0.1} with positives at 0.9 and one 0.5: recall 1/2 at
  // precision 1, then recall 1 at precision 2/3 -> AP 1/2 + 1/2 * 2/3; AUC counts the tied pair half:
  // (2 + 1.5) / 4 pairs... positives {0.9, 0.5} vs negatives {0.5, 0.1}: 1 + 1 + 0.5 + 1 = 3.5 of 4.
  CATCH_CHECK(average_precision({0.9, 0.5, 0.5, 0.1}, {1, 1, 0, 0}) == Approx(0.5 + 0.5 * 2.0 / 3.0));
  CATCH_CHECK(roc_auc({0.9, 0.5, 0.5, 0.1}, {1, 1, 0, 0}) == Approx(3.5 / 4));
  CATCH_CHECK(std::isnan(average_precision({0.3, 0.2}, {0, 0})));
  CATCH_CHECK(std::isnan(roc_auc({0.3, 0.2}, {1, 1})));
  // d' = sqrt(2) Phi^-1(AUC): 0 at chance; AUC = Phi(1 / sqrt(2)) = 0.760250 for d' = 1.
  CATCH_CHECK(d_prime(0.5) == Approx(0).margin(1e-12));
  CATCH_CHECK(d_prime(0.5 * std::erfc(-1.0 / 2.0)) == Approx(1.0).epsilon(1e-9));
  CATCH_CHECK(d_prime(0.5 * std::erfc(-2.0 / 2.0)) == Approx(2.0).epsilon(1e-9));
}

CATCH_TEST_CASE("multi-label metrics average AP and AUC over the classes where they are defined", "[eval]") {
  // Classes 0 and 1 are ranked perfectly; class 2 has no positive (left out of both means).
  const at::Tensor scores = at::tensor({0.9, 0.1, 0.5, 0.2, 0.8, 0.4, 0.1, 0.3, 0.7}, at::kDouble).view({3, 3});
  const at::Tensor targets = at::tensor({1, 0, 0, 0, 1, 0, 0, 1, 0}, at::kDouble).view({3, 3});
  const MultiLabelMetrics m = multilabel_metrics(scores, targets);
  CATCH_CHECK(m.samples == 3);
  CATCH_CHECK(m.ap[0] == Approx(1.0));
  // Class 1: scores {0.1, 0.8, 0.3}, positives rows 1 and 2 -> ranked 1st and 2nd: AP 1, AUC 1.
  CATCH_CHECK(m.ap[1] == Approx(1.0));
  CATCH_CHECK(m.auc[1] == Approx(1.0));
  CATCH_CHECK(std::isnan(m.ap[2]));
  CATCH_CHECK(std::isnan(m.auc[2]));
  CATCH_CHECK(m.map == Approx(1.0));
  CATCH_CHECK(m.mean_auc == Approx(1.0));
  // Reverse the ranking of class 1: its AP is the precision at full recall (2/3), its AUC 0.
  const at::Tensor worse = scores.clone();
  worse.select(1, 1).copy_(at::tensor({0.9, 0.1, 0.2}, at::kDouble));
  const MultiLabelMetrics w = multilabel_metrics(worse, targets);
  CATCH_CHECK(w.ap[1] == Approx(0.5 * 1.0 / 2.0 + 0.5 * 2.0 / 3.0));
  CATCH_CHECK(w.auc[1] == Approx(0.0));
  CATCH_CHECK(w.map == Approx((1.0 + w.ap[1]) / 2));
  CATCH_CHECK(w.mean_auc == Approx(0.5));
  CATCH_CHECK(w.d_prime == Approx(0).margin(1e-12));
}

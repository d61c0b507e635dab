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

#pragma once
// Evaluation metrics: zero-shot classification accuracy and image-text retrieval recall.

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmcl::eval {

struct ClassificationMetrics {
  int64_t samples = 0;
  double top1 = 0, top5 = 0;                       // fractions in [0, 1]
  std::vector<double> per_class;                   // accuracy of each class (NaN when a class has no sample)
  std::vector<std::vector<int64_t>> confusion;     // [true class][predicted class]
};

// logits [N, C], labels [N] in [0, C). Top-k counts a sample when its label is among the k highest
// logits (k capped at C).
ClassificationMetrics classification_metrics(const at::Tensor& logits, const at::Tensor& labels);

// Multi-label classification (AudioSet's protocol): per class, average precision over the samples ranked
// by score and the area under the ROC curve; mAP and the mean AUC over the classes where they are
// defined, and d-prime = sqrt(2) * Phi^-1(mean AUC).
struct MultiLabelMetrics {
  int64_t samples = 0;
  double map = 0, mean_auc = 0, d_prime = 0;
  std::vector<double> ap, auc;  // per class; NaN where undefined (AP: no positive; AUC: no positive or no negative)
};
// scores [N, C] (logits or probabilities: only their order matters), targets [N, C] in {0, 1}.
MultiLabelMetrics multilabel_metrics(const at::Tensor& scores, const at::Tensor& targets);
// scikit-learn's average_precision_score: the sum over score thresholds (tied scores form one) of the
// recall gained times the precision there. NaN without a positive.
double average_precision(const std::vector<double>& scores, const std::vector<int>& positive);
// The Mann-Whitney AUC: the chance that a positive outscores a negative, ties counting half. NaN
// without both.
double roc_auc(const std::vector<double>& scores, const std::vector<int>& positive);
// sqrt(2) * Phi^-1(auc), the separation of two unit normals giving that AUC (inf at 1).
double d_prime(double auc);

struct RetrievalMetrics {
  double image_to_text_r1 = 0, image_to_text_r5 = 0, image_to_text_r10 = 0, image_to_text_median_rank = 0;
  double text_to_image_r1 = 0, text_to_image_r5 = 0, text_to_image_r10 = 0, text_to_image_median_rank = 0;
  double rsum = 0;  // the six recalls in percent, summed
};

// similarity [I, T] between I images and T captions; owner[t] is the image caption t describes (an
// image may have several captions). Image -> text: the rank of the best-ranked caption of the image;
// text -> image: the rank of its image. Ranks are 1-based and ties count against the model (a
// competitor with an equal score ranks ahead). Recalls are fractions in [0, 1].
RetrievalMetrics retrieval_metrics(const at::Tensor& similarity, const std::vector<int64_t>& owner);

// Ranks as used above, exposed for tests: image_ranks[i], text_ranks[t].
void retrieval_ranks(const at::Tensor& similarity, const std::vector<int64_t>& owner, std::vector<int64_t>& image_ranks,
                     std::vector<int64_t>& text_ranks);

double median(std::vector<int64_t> values);

}  // namespace mmcl::eval

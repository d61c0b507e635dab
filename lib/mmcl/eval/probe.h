#pragma once
// The linear probe of a checkpoint, in one of two protocols (eval.probe.method):
//   logistic: CLIP's (Radford et al. 2021, Appendix A.3): logistic regression on the frozen embeddings
//     of eval.train, the L2 strength chosen on eval.val (or a fixed 20% of eval.train);
//   sgd: CVRL's and VATT's: a linear layer trained with momentum SGD (cosine schedule) on the L2-normalised
//     features of eval.train, embedded anew each epoch from randomly cropped and flipped inputs (a random
//     clip of each video, a random audio window) when eval.probe.augment.
// Either reports on eval.data, whose samples may be several views each (eval.views): top-1 and top-5, or
// for multi-label sets (eval.multi_label) mAP, mean AUC and d-prime.

#include <functional>
#include <utility>

#include "mmcl/eval/logistic.h"
#include "mmcl/eval/metrics.h"
#include "mmcl/run/run.h"

namespace mmcl::eval {

struct ProbeReport {
  ProbeResult probe;
  bool multi_label = false;
  ClassificationMetrics test;     // single-label sets
  MultiLabelMetrics test_multi;   // multi-label sets
  int64_t fit = 0, val = 0, classes = 0;  // samples fitted on and validated on (0 with sgd), and classes
};

ProbeReport probe_checkpoint(const run::Run& run);

// The sgd protocol's training on given features: `epochs` passes of mini-batches of `batch_size` in an
// order drawn from `seed`, momentum 0.9, learning rate lr * (1 + cos(pi t / T)) / 2 over the T steps,
// weight decay on the weights (not the bias). features(epoch) gives the epoch's [N, D] features and
// labels ([N] class numbers or [N, classes] multi-hot).
LogisticModel train_linear_sgd(const std::function<std::pair<at::Tensor, at::Tensor>(int64_t)>& features,
                               int64_t classes, int64_t epochs, int64_t batch_size, double lr, double weight_decay,
                               uint64_t seed);

}  // namespace mmcl::eval

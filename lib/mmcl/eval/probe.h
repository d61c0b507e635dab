#pragma once
// The linear probe of a checkpoint (Radford et al. 2021, Appendix A.3): logistic regression on the
// frozen embeddings of eval.train, the L2 strength chosen on eval.val (or a fixed 20% of eval.train),
// top-1 reported on eval.data.

#include "mmcl/eval/logistic.h"
#include "mmcl/eval/metrics.h"
#include "mmcl/run/run.h"

namespace mmcl::eval {

struct ProbeReport {
  ProbeResult probe;
  ClassificationMetrics test;
  int64_t fit = 0, val = 0, classes = 0;  // samples fitted on and validated on, and classes
};

ProbeReport probe_checkpoint(const run::Run& run);

}  // namespace mmcl::eval

#pragma once
// Zero-shot classification (CLIP, Radford et al. 2021, Sec. 3.1.4): each class is the mean of the
// normalised text embeddings of its name in every template (prompt ensembling), and each image of
// eval.data (or clip, for a video model) takes the class it is most similar to.

#include <string>
#include <vector>

#include "mmcl/eval/metrics.h"
#include "mmcl/run/run.h"

namespace mmcl::eval {

struct ZeroshotResult {
  ClassificationMetrics metrics;
  std::vector<std::string> classes;  // eval.classnames, or the manifest's label names
  int64_t skipped = 0;               // unreadable inputs left out
};

// `templates` with {} replaced by `name` (every occurrence).
std::string fill_template(const std::string& templ, const std::string& name);

// Over eval.data with eval.templates. Config problems (no class names, labels beyond them) are
// ConfigErrors.
ZeroshotResult zeroshot(const run::Run& run);

}  // namespace mmcl::eval

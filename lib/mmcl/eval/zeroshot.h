#pragma once
// Zero-shot classification (CLIP, Radford et al. 2021, Sec. 3.1.4): each class is the mean of the
// normalised text embeddings of its name in every template (prompt ensembling), and each image of
// eval.data (or clip, for a video model) takes the class it is most similar to.

#include <string>
#include <utility>
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

// The zero-shot classifier of `classes` with eval.templates: per class, the mean of its normalised prompt
// embeddings, normalised again: [C, D].
at::Tensor class_embeddings(const run::Run& run, const std::vector<std::string>& classes);

struct ImageClasses {
  std::string image;
  std::vector<std::pair<std::string, double>> top;  // class, probability (softmax of the scaled similarities)
  std::vector<double> similarity;                   // cosine similarity to each class, in class order
};
struct ClassifyResult {
  std::vector<ImageClasses> images;  // the readable ones, in the order given
  std::vector<std::string> skipped;  // unreadable files
};
// Zero-shot classification of single image files among `classes` (mmcl classify): probabilities are the
// softmax over classes of the model's logit scale x cosine similarity (CLIP's), the `top` most likely kept.
ClassifyResult classify_images(const run::Run& run, const std::vector<std::string>& images,
                               const std::vector<std::string>& classes, int64_t top);

}  // namespace mmcl::eval

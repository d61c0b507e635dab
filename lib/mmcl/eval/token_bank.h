#pragma once
// What an FDT model's token bank has learned, as in Fig. 4 of Chen et al. (CVPR 2023). Over the
// image-caption pairs of eval.data: the bank tokens with the largest mean weight, for each one the
// words whose positions give the token its relevance and the images that weigh it most (with the
// relevance of each of their patches), and the sparsity reached: how many tokens an image or a
// caption gives a non-zero weight.

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mmcl/data/image.h"
#include "mmcl/run/run.h"

namespace mmcl::eval {

struct InspectOptions {
  int64_t tokens = 10;   // the most used tokens to report
  int64_t examples = 4;  // images per reported token (those that weigh it most)
  int64_t words = 8;     // words per reported token
  int64_t limit = 1000;  // the first N pairs of eval.data (0: all)
};

struct WordUse {
  std::string word;
  double weight = 0;     // the summed weight of the captions where it selects the token
  int64_t captions = 0;
};

struct TokenExample {
  std::string image, caption;
  double weight = 0;
  at::Tensor pixels;           // the normalised image the model saw [3, S, S]
  at::Tensor patch_relevance;  // [patches]: each patch's relevance to the token
};

struct TokenUse {
  int64_t token = 0;
  double mean_weight = 0, mean_image_weight = 0, mean_caption_weight = 0;
  int64_t images_with_weight = 0, captions_with_weight = 0;
  std::vector<WordUse> words;  // by weight, most first
  std::vector<TokenExample> examples;
};

struct Range {
  double mean = 0, min = 0, max = 0;
};

struct TokenBankReport {
  int64_t pairs = 0, skipped = 0, bank = 0;
  Range nonzero_per_image, nonzero_per_caption;
  int64_t used_by_images = 0, used_by_captions = 0, used_by_both = 0;
  double pair_overlap = 0;  // mean over pairs of sum(min(w_image, w_caption))
  std::vector<TokenUse> top;
  data::ImageTransform transform;  // the evaluation transform the examples went through
};

// A ConfigError when the run's model is not an FDT model (it has no token bank).
TokenBankReport inspect_token_bank(const run::Run& run, const InspectOptions& options);

}  // namespace mmcl::eval

#pragma once
// One query against a set of embeddings (mmcl search): a text or an image, embedded by the model, against
// the images or captions of an index that `mmcl embed` (or `mmcl retrieve` with eval.export_embeddings)
// wrote, or of a folder of images embedded on the spot. Scores are cosine similarities (every embedding
// is normalised), highest first.

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mmcl/run/run.h"

namespace mmcl::eval {

struct SearchIndex {
  std::string source;                    // the file or folder
  at::Tensor images;                     // [N, D] float32, rows of unreadable images left out
  std::vector<std::string> image_paths;  // one per row of images
  at::Tensor texts;                      // [C, D] float32; undefined without captions
  std::vector<std::string> captions;     // one per row of texts
  std::string checkpoint;                // what made the index, when it says ("" otherwise)
};

// An embeddings.safetensors of `mmcl embed` or `mmcl retrieve`; a clear Error for any other file or a
// damaged one (shapes or metadata that disagree).
SearchIndex read_index(const std::string& path);
// Every image below `folder` (recursively, sorted), embedded by the run's model; at most `max_images`.
SearchIndex index_folder(const run::Run& run, const std::string& folder, int64_t max_images);

// The normalised embedding [D] of one caption, or of one image file (an unreadable image is an Error).
at::Tensor embed_query_text(const run::Run& run, const std::string& text);
at::Tensor embed_query_image(const run::Run& run, const std::string& path);

struct Hit {
  int64_t row = 0;   // in the items searched
  double score = 0;  // cosine similarity
};
// The `top` items most similar to `query` ([D] against [N, D]), best first; ties by row.
std::vector<Hit> nearest(const at::Tensor& query, const at::Tensor& items, int64_t top);

}  // namespace mmcl::eval

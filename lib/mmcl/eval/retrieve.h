#pragma once
// Retrieval over eval.data: image -> text and text -> image (each image with one or more captions:
// repeated rows of a CSV/TSV, or a list of captions in JSONL); video <-> text for models evaluated on
// video (the centre clip of each video); with eval.retrieval audio, video <-> audio (each video's
// centre clip against the centre of every soundtrack; VATT's video-audio space).

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "mmcl/eval/metrics.h"
#include "mmcl/run/run.h"

namespace mmcl::eval {

struct RetrievalResult {
  std::string query;   // "image" or "video": the side whose rows are the items
  std::string target;  // "text" or "audio"
  RetrievalMetrics metrics;  // image_to_text_* is query -> target, text_to_image_* target -> query
  int64_t items = 0;         // readable images or videos evaluated
  int64_t captions = 0;      // captions of those (text retrieval)
  // Text retrieval: the rows as evaluated (readable items in manifest order, their captions in
  // manifest order), for eval.export_embeddings.
  at::Tensor item_embeddings, text_embeddings;
  std::vector<int64_t> caption_item;
  std::vector<std::string> item_paths, caption_texts;
};

RetrievalResult retrieve(const run::Run& run);

}  // namespace mmcl::eval

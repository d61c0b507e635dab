#pragma once
// webdataset shards: tar files whose members are grouped into samples by key ("dir/000123.jpg",
// "dir/000123.txt" -> sample "dir/000123"). A sample needs an image (.jpg .jpeg .png .bmp .gif) and,
// when captions are wanted, a caption (.txt, or .json with a caption field); a .cls member (an
// integer) gives its label.
//
// Shards are read as a stream: opening them reads only the tar headers (to know where each member
// is and how many samples there are); an epoch visits the shards in a shuffled order, reads each one
// front to back and passes its samples through a shuffle buffer, as webdataset does. The order depends
// only on (seed, epoch), so a run is reproducible and resumes mid-epoch.

#include <memory>
#include <string>
#include <vector>

#include "mmcl/data/dataset.h"
#include "mmcl/data/image.h"

namespace mmcl::data {

struct WebDatasetOptions {
  std::string caption_field = "caption";  // the caption in .json members ("caption", "text" are tried too)
  int64_t shuffle_buffer = 2000;         // samples; <= 1 keeps the order within each shard
  bool need_captions = true;             // skip samples without one
};

class WebDataset : public Dataset {
 public:
  // `tokenizer` may be null when captions are not tokenised.
  WebDataset(std::vector<std::string> shards, ImageTransform transform, std::shared_ptr<const text::Tokenizer> tokenizer,
             int64_t context_length, WebDatasetOptions options);
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  Sample get(int64_t index, uint64_t seed) const override;
  std::string describe(int64_t index) const override;
  std::vector<int64_t> epoch_order(uint64_t seed) const override;

  // All captions of sample `index` (for learning a vocabulary).
  std::vector<std::string> captions(int64_t index) const;
  int64_t shard_count() const { return static_cast<int64_t>(shards_.size()); }
  // Samples left out when the shards were opened (no image, no caption) and shards cut short.
  int64_t incomplete_samples() const { return incomplete_; }
  int64_t damaged_shards() const { return damaged_; }

 private:
  struct Part {
    uint64_t offset = 0, size = 0;
    std::string extension;
  };
  struct Entry {
    int32_t shard = 0;
    std::string key;
    Part image, text, label;  // size 0 / empty extension: absent
  };

  // The captions in the bytes of sample `index`'s .txt or .json member.
  std::vector<std::string> parse_captions(int64_t index, const std::string& bytes) const;

  std::vector<std::string> shards_;
  std::vector<int64_t> shard_begin_;  // samples of shard s: [shard_begin_[s], shard_begin_[s + 1])
  std::vector<Entry> samples_;
  ImageTransform transform_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  int64_t context_length_;
  WebDatasetOptions options_;
  int64_t incomplete_ = 0, damaged_ = 0;
};

// Splits a member name into webdataset's (key, extension): the key ends at the first '.' of the base
// name; the extension is the rest, lower-cased ("a/b.seg.PNG" -> "a/b", "seg.png").
std::pair<std::string, std::string> split_member_name(const std::string& name);

}  // namespace mmcl::data

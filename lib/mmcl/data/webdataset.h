#pragma once
// webdataset shards: tar files whose members are grouped into samples by key ("dir/000123.jpg",
// "dir/000123.txt" -> sample "dir/000123"). A sample needs an image (.jpg .jpeg .png .bmp .gif) and,
// when captions are wanted, a caption (.txt, or .json with a caption field); a .cls member (an
// integer) gives its label.
//
// Two ways to read them:
// - StreamedWebDataset (the default): nothing is read up front. Each epoch shuffles the shard list by
//   its seed; the processes split it, then each process's loader streams split their share
//   (webdataset's split_by_node, split_by_worker); a stream reads its shards front to back through a
//   bounded shuffle buffer and starts over (reshuffled) when they run out before the epoch's end, so
//   every stream can always fill its batches and every process stops at the same step. Memory is the
//   buffer's, whatever the number of shards. Shards may be local files, "pipe:COMMAND" (the command's
//   stdout) or http(s) URLs (read with curl).
// - WebDataset (data.webdataset.index: true): every shard's headers are read at start-up into an index
//   of samples (random access; the epoch order shuffles shards, then through a buffer).

#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "mmcl/data/dataset.h"
#include "mmcl/data/image.h"

namespace mmcl::data {

// Where a sample's members are: in its shard file (offsets of the file), or in bytes read from a
// stream (offsets into them).
struct MemberPart {
  uint64_t offset = 0, size = 0;
  std::string extension;  // empty: absent
};
struct ShardSample {
  int32_t shard = 0;
  std::string key;
  MemberPart image, text, label;
};

// What a sample's members hold, to be made into a Sample: the image's bytes, the caption member's
// (.txt or .json), the label's (.cls).
struct SampleMembers {
  std::string name;  // "SHARD:KEY", for messages
  std::string image, image_extension;
  std::string text, text_extension;  // text_extension "": no caption member
  std::string label;
  bool has_label = false;
};
// The captions in a .txt or .json member (.json: the field `caption_field`, then "caption", "text").
std::vector<std::string> parse_captions(const std::string& name, const std::string& extension, const std::string& bytes,
                                        const std::string& caption_field);
// The Sample of `members`: the image transformed with `rng`'s draws, one caption (drawn when there are
// several) tokenised when `tokenizer` is set, the label. Throws SampleError.
Sample decode_sample(const SampleMembers& members, const ImageTransform& transform, const text::Tokenizer* tokenizer,
                     int64_t context_length, const std::string& caption_field, std::mt19937_64& rng);

struct WebDatasetOptions {
  std::string caption_field = "caption";  // the caption in .json members ("caption", "text" are tried too)
  int64_t shuffle_buffer = 2000;         // samples; <= 1 keeps the order within each shard
  bool need_captions = true;             // skip samples without one
  int64_t samples_per_epoch = 0;         // streamed: the epoch's length (0: from stats files, else counted)
  bool resampled = false;                // streamed: streams draw shards with replacement
};

// The samples in each shard, when known without reading it: from img2dataset's "NAME_stats.json"
// beside "NAME.tar" (its "successes"), or a "sizes.json" in the shard's folder mapping file names to
// counts (as open_clip reads). -1 where neither says.
std::vector<int64_t> shard_sizes_from_stats(const std::vector<std::string>& shards);

// Calls `f` with every caption (.txt, .json) in `shards`, read once in order (to learn a vocabulary).
void for_each_caption(const std::vector<std::string>& shards, const std::string& caption_field,
                      const std::function<void(std::string)>& f);

// Shards streamed, front to back; see the top of this file.
class StreamedWebDataset : public Dataset {
 public:
  StreamedWebDataset(std::vector<std::string> shards, ImageTransform transform,
                     std::shared_ptr<const text::Tokenizer> tokenizer, int64_t context_length, WebDatasetOptions options);
  int64_t size() const override { return samples_per_epoch_; }
  Sample get(int64_t index, uint64_t seed) const override;  // throws: no random access
  bool streamed() const override { return true; }
  std::unique_ptr<SampleStream> open_stream(const StreamPlace& place) const override;

  int64_t shard_count() const { return static_cast<int64_t>(shards_.size()); }
  // Shards whose reading failed (a failed command, damage) so far, in this process.
  int64_t failed_shards() const { return failed_shards_; }

 private:
  friend class ShardStream;
  std::vector<std::string> shards_;
  ImageTransform transform_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
  int64_t context_length_;
  WebDatasetOptions options_;
  int64_t samples_per_epoch_ = 0;
  mutable std::atomic<int64_t> failed_shards_{0};
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
  using Entry = ShardSample;

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

#pragma once
// Tokenizers turn captions into the id sequences the text tower reads.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mmcl::text {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;  // ids, no start/end tokens
  virtual int64_t start_token() const = 0;
  virtual int64_t end_token() const = 0;  // the largest id: CLIP pools the text at the argmax id
  virtual int64_t vocab_size() const = 0;
  // The text of one id, for reports; a word-final BPE piece has its end-of-word marker removed.
  virtual std::string token_text(int64_t id) const = 0;
  // open_clip's tokenize(): [start, ids..., end], cut to context_length keeping the end token last,
  // padded with 0.
  std::vector<int64_t> tokenize(const std::string& text, int64_t context_length) const;
  at::Tensor tokenize(const std::vector<std::string>& texts, int64_t context_length) const;  // [N, ctx]
};

// CLIP's byte-level BPE (ids 49406/49407 for start/end with the standard vocabulary) from a
// bpe_simple_vocab_16e6.txt.gz file. Throws mmcl::Error naming the file when it is unusable.
// Text clean-up is html-unescaping, whitespace collapsing and lower-casing; ftfy's mojibake repair
// is not done.
// An empty `path`: the copy compiled into mmcl (third_party/clip), the same file.
std::shared_ptr<const Tokenizer> load_clip_bpe(const std::string& path);
// That copy's bytes (gzip), for tests and `mmcl tokenize`.
std::string_view builtin_clip_bpe_gz();

// Lower-cased words, numbers (one digit each) and punctuation runs, after collapsing whitespace.
std::vector<std::string> split_words(const std::string& text);

// A word vocabulary learned from captions, for users without CLIP's BPE file.
// Ids: 0 padding, 1 unknown, 2.. words (most frequent first, ties by spelling), then start, end.
class WordVocab : public Tokenizer {
 public:
  static WordVocab learn(const std::vector<std::string>& captions, int64_t max_words, int64_t min_count);
  static WordVocab from_json(const std::string& json);
  std::string to_json() const;

  std::vector<int64_t> encode(const std::string& text) const override;
  int64_t start_token() const override { return static_cast<int64_t>(words_.size()) + 2; }
  int64_t end_token() const override { return static_cast<int64_t>(words_.size()) + 3; }
  int64_t vocab_size() const override { return static_cast<int64_t>(words_.size()) + 4; }
  std::string token_text(int64_t id) const override;
  const std::vector<std::string>& words() const { return words_; }

  static constexpr int64_t kUnknown = 1;

 private:
  explicit WordVocab(std::vector<std::string> words);
  std::vector<std::string> words_;
  std::map<std::string, int64_t> ids_;
};

}  // namespace mmcl::text

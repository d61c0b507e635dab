#include <algorithm>
#include <cctype>
#include <unordered_map>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/json_text.h"
#include "mmcl/core/error.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::text {

std::vector<int64_t> Tokenizer::tokenize(const std::string& text, int64_t context_length) const {
  std::vector<int64_t> ids{start_token()};
  const std::vector<int64_t> body = encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(end_token());
  if (static_cast<int64_t>(ids.size()) > context_length) {
    ids.resize(static_cast<size_t>(context_length));
    ids.back() = end_token();
  }
  ids.resize(static_cast<size_t>(context_length), 0);
  return ids;
}

at::Tensor Tokenizer::tokenize(const std::vector<std::string>& texts, int64_t context_length) const {
  at::Tensor out = at::zeros({static_cast<int64_t>(texts.size()), context_length}, at::kLong);
  auto a = out.accessor<int64_t, 2>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tokenize(texts[i], context_length);
    for (int64_t j = 0; j < context_length; ++j) a[static_cast<int64_t>(i)][j] = ids[static_cast<size_t>(j)];
  }
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  enum Kind { kSpace, kLetter, kDigit, kOther };
  auto kind = [](unsigned char c) {
    if (std::isspace(c)) return kSpace;
    if (std::isalpha(c) || c >= 0x80) return kLetter;  // UTF-8 sequences count as letters
    if (std::isdigit(c)) return kDigit;
    return kOther;
  };
  std::vector<std::string> out;
  std::string current;
  Kind current_kind = kSpace;
  for (unsigned char c : text) {
    const Kind k = kind(c);
    if (!current.empty() && (k != current_kind || k == kDigit)) {
      out.push_back(current);
      current.clear();
    }
    if (k != kSpace) current += static_cast<char>(std::tolower(c));
    current_kind = k;
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

WordVocab::WordVocab(std::vector<std::string> words) : words_(std::move(words)) {
  for (size_t i = 0; i < words_.size(); ++i) ids_[words_[i]] = static_cast<int64_t>(i) + 2;
}

WordVocab WordVocab::learn(const std::vector<std::string>& captions, int64_t max_words, int64_t min_count) {
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& caption : captions)
    for (const auto& w : split_words(caption)) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> words;
  for (const auto& [w, n] : sorted)
    if (n >= min_count && static_cast<int64_t>(words.size()) < max_words) words.push_back(w);
  return WordVocab(std::move(words));
}

std::vector<int64_t> WordVocab::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& w : split_words(text)) {
    const auto it = ids_.find(w);
    ids.push_back(it == ids_.end() ? kUnknown : it->second);
  }
  return ids;
}

std::string WordVocab::token_text(int64_t id) const {
  if (id == 0) return "<pad>";
  if (id == kUnknown) return "<unk>";
  if (id == start_token()) return "<start>";
  if (id == end_token()) return "<end>";
  if (id >= 2 && id < start_token()) return words_[static_cast<size_t>(id - 2)];
  return "<" + std::to_string(id) + ">";
}

std::string WordVocab::to_json() const {
  return json_text(nlohmann::json{{"type", "words"}, {"words", words_}}) + "\n";
}

WordVocab WordVocab::from_json(const std::string& json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  MMCL_CHECK(!j.is_discarded() && j.is_object() && j.value("type", "") == "words" && j.contains("words") &&
                 j["words"].is_array(),
             "not a word vocabulary (expected {\"type\": \"words\", \"words\": [...]})");
  return WordVocab(j["words"].get<std::vector<std::string>>());
}

}  // namespace mmcl::text

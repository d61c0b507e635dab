#include "mmcl/data/webdataset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/numbers.h"
#include "mmcl/core/log.h"
#include "mmcl/core/utf8.h"
#include "mmcl/data/image_files.h"
#include "mmcl/data/tar.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::data {
namespace {

std::string trim(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  return s;
}

}  // namespace

std::pair<std::string, std::string> split_member_name(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = name.find('.', base);
  if (dot == std::string::npos) return {name, ""};
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return {name.substr(0, dot), ext};
}

WebDataset::WebDataset(std::vector<std::string> shards, ImageTransform transform,
                       std::shared_ptr<const text::Tokenizer> tokenizer, int64_t context_length,
                       WebDatasetOptions options)
    : shards_(std::move(shards)), transform_(transform), tokenizer_(std::move(tokenizer)),
      context_length_(context_length), options_(std::move(options)) {
  for (size_t s = 0; s < shards_.size(); ++s) {
    shard_begin_.push_back(static_cast<int64_t>(samples_.size()));
    const TarIndex index = scan_tar(shards_[s]);
    if (!index.problem.empty()) {
      ++damaged_;
      spdlog::warn("{}: {}; using the {} members before that point", shards_[s], index.problem, index.members.size());
    }
    int64_t incomplete_here = 0;
    auto finish = [&](Entry& e) {
      if (e.key.empty() && e.image.extension.empty() && e.text.extension.empty()) return;
      if (e.image.extension.empty() || (options_.need_captions && e.text.extension.empty())) {
        ++incomplete_here;
        return;
      }
      samples_.push_back(std::move(e));
    };
    Entry current;
    bool open = false;
    for (const TarMember& m : index.members) {
      auto [key, ext] = split_member_name(m.name);
      if (!open || key != current.key) {
        if (open) finish(current);
        current = Entry{};
        current.shard = static_cast<int32_t>(s);
        current.key = key;
        open = true;
      }
      Part part{m.offset, m.size, ext};
      if (is_image_extension(ext) && current.image.extension.empty()) current.image = part;
      else if ((ext == "txt" || ext == "json") && current.text.extension.empty()) current.text = part;
      else if (ext == "cls") current.label = part;
    }
    if (open) finish(current);
    if (incomplete_here > 0)
      spdlog::warn("{}: {} samples without an image{} left out", shards_[s], incomplete_here,
                   options_.need_captions ? " or a caption" : "");
    incomplete_ += incomplete_here;
  }
  shard_begin_.push_back(static_cast<int64_t>(samples_.size()));
  spdlog::info("webdataset: {} samples in {} shards", samples_.size(), shards_.size());
}

std::string WebDataset::describe(int64_t index) const {
  const Entry& e = samples_.at(static_cast<size_t>(index));
  return shards_[static_cast<size_t>(e.shard)] + ":" + e.key;
}

std::vector<std::string> WebDataset::captions(int64_t index) const {
  const Entry& e = samples_.at(static_cast<size_t>(index));
  if (e.text.extension.empty()) return {};
  return parse_captions(index, read_file_range(shards_[static_cast<size_t>(e.shard)], e.text.offset, e.text.size));
}

std::vector<std::string> WebDataset::parse_captions(int64_t index, const std::string& bytes) const {
  const Entry& e = samples_.at(static_cast<size_t>(index));
  // Captions that are not UTF-8 (Latin-1 scraped text, cut bytes) are read with U+FFFD for their
  // ill-formed bytes, and said once: the vocabulary and every JSON output need UTF-8.
  const bool utf8 = is_utf8(bytes);
  if (!utf8) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true))
      spdlog::warn("{}.{}: not UTF-8; ill-formed bytes of captions are read as U+FFFD (said once)", describe(index),
                   e.text.extension);
  }
  const std::string text = utf8 ? bytes : repair_utf8(bytes);
  if (e.text.extension == "txt") return {trim(text)};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& ex) {
    throw SampleError(str_cat(describe(index), ".json: not JSON (", ex.what(), ")"));
  }
  for (const std::string& name : {options_.caption_field, std::string("caption"), std::string("text")}) {
    if (!j.is_object() || !j.contains(name)) continue;
    const nlohmann::json& v = j[name];
    if (v.is_string()) return {v.get<std::string>()};
    if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& x) { return x.is_string(); }))
      return v.get<std::vector<std::string>>();
    break;
  }
  throw SampleError(str_cat(describe(index), ".json: no caption (a string or a list of strings under \"",
                            options_.caption_field, "\")"));
}

Sample WebDataset::get(int64_t index, uint64_t seed) const {
  const Entry& e = samples_.at(static_cast<size_t>(index));
  // A sample's members are next to each other in the shard: one read covers them all.
  uint64_t begin = e.image.offset, end = e.image.offset + e.image.size;
  for (const Part* p : {&e.text, &e.label})
    if (!p->extension.empty()) begin = std::min(begin, p->offset), end = std::max(end, p->offset + p->size);
  const std::string bytes = read_file_range(shards_[static_cast<size_t>(e.shard)], begin, end - begin);
  auto member = [&](const Part& p) { return bytes.substr(p.offset - begin, p.size); };

  std::mt19937_64 rng(seed);
  Sample s;
  s.image = transform_image_bytes(member(e.image), describe(index) + "." + e.image.extension, transform_, rng);
  if (tokenizer_ && !e.text.extension.empty()) {
    const std::vector<std::string> all = parse_captions(index, member(e.text));
    if (all.empty()) throw SampleError(str_cat(describe(index), ": empty caption list"));
    const size_t pick = all.size() == 1 ? 0 : static_cast<size_t>(rng() % all.size());
    s.text = at::tensor(tokenizer_->tokenize(all[pick], context_length_), at::kLong);
  }
  if (!e.label.extension.empty()) {
    const std::string text = trim(member(e.label));
    const std::optional<int64_t> label = parse_non_negative(text);
    if (!label)
      throw SampleError(str_cat(describe(index), ".cls: expected a non-negative integer below 2^63, got \"",
                                text.substr(0, 40), text.size() > 40 ? "...\"" : "\""));
    s.label = *label;
  }
  return s;
}

std::vector<int64_t> WebDataset::epoch_order(uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> shard_order(shards_.size());
  for (size_t s = 0; s < shard_order.size(); ++s) shard_order[s] = static_cast<int64_t>(s);
  for (int64_t i = static_cast<int64_t>(shard_order.size()) - 1; i > 0; --i)
    std::swap(shard_order[static_cast<size_t>(i)], shard_order[rng() % static_cast<uint64_t>(i + 1)]);
  // webdataset's shuffle buffer: fill it, then each new sample takes the place of a random one, which
  // is emitted; at the end the rest leaves in random order.
  const size_t capacity = static_cast<size_t>(std::max<int64_t>(options_.shuffle_buffer, 1));
  std::vector<int64_t> order, buffer;
  order.reserve(samples_.size());
  buffer.reserve(capacity);
  for (const int64_t s : shard_order) {
    for (int64_t i = shard_begin_[static_cast<size_t>(s)]; i < shard_begin_[static_cast<size_t>(s) + 1]; ++i) {
      if (buffer.size() < capacity) {
        buffer.push_back(i);
        continue;
      }
      const size_t j = static_cast<size_t>(rng() % capacity);
      order.push_back(buffer[j]);
      buffer[j] = i;
    }
  }
  while (!buffer.empty()) {
    const size_t j = static_cast<size_t>(rng() % buffer.size());
    order.push_back(buffer[j]);
    buffer[j] = buffer.back();
    buffer.pop_back();
  }
  return order;
}

}  // namespace mmcl::data

#include "mmcl/data/webdataset.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/numbers.h"
#include "mmcl/core/log.h"
#include "mmcl/core/utf8.h"
#include "mmcl/data/image_files.h"
#include "mmcl/core/braces.h"
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

constexpr uint64_t kMaxSampleBytes = uint64_t{256} << 20;

// The part a member with extension `ext` plays in `e`, if any: the first image, the first .txt or
// .json, the .cls.
MemberPart* part_for(ShardSample& e, const std::string& ext) {
  if (is_image_extension(ext) && e.image.extension.empty()) return &e.image;
  if ((ext == "txt" || ext == "json") && e.text.extension.empty()) return &e.text;
  if (ext == "cls") return &e.label;
  return nullptr;
}

bool complete(const ShardSample& e, bool need_captions) {
  return !e.image.extension.empty() && (!need_captions || !e.text.extension.empty());
}

// Consecutive members with the same key make a sample.
struct Grouper {
  explicit Grouper(bool need_captions) : need_captions(need_captions) {}
  // Starts the sample of `key` unless it is the current one; true when that finished a complete
  // sample, which is moved to `done` (an incomplete one is counted).
  bool begin(int32_t shard, const std::string& key, ShardSample& done) {
    if (open && key == current.key) return false;
    const bool finished = open && end(done);
    current = ShardSample{};
    current.shard = shard;
    current.key = key;
    open = true;
    return finished;
  }
  // Ends the current sample (at a shard's end); true when it is complete, moved to `done`.
  bool end(ShardSample& done) {
    if (!open) return false;
    open = false;
    if (!complete(current, need_captions)) {
      ++incomplete;
      return false;
    }
    done = std::move(current);
    return true;
  }
  bool need_captions;
  ShardSample current;
  bool open = false;
  int64_t incomplete = 0;
};

// The members of `e`: read from the shard file at `shard` (one read: a sample's members are next to
// each other), or taken from `bytes` when the stream they came from cannot be read again.
SampleMembers read_members(const std::string& shard, const std::string& name, const ShardSample& e,
                           const std::string* bytes = nullptr) {
  uint64_t begin = e.image.offset, end = e.image.offset + e.image.size;
  for (const MemberPart* p : {&e.text, &e.label})
    if (!p->extension.empty()) begin = std::min(begin, p->offset), end = std::max(end, p->offset + p->size);
  if (end - begin > kMaxSampleBytes)
    throw SampleError(str_cat(name, ": ", end - begin, " bytes, more than a sample may have (", kMaxSampleBytes >> 20,
                              " MiB)"));
  const std::string read = bytes ? std::string() : read_file_range(shard, begin, end - begin);
  const std::string& all = bytes ? *bytes : read;
  const uint64_t base = bytes ? 0 : begin;
  auto member = [&](const MemberPart& p) { return all.substr(p.offset - base, p.size); };
  SampleMembers m;
  m.name = name;
  m.image = member(e.image);
  m.image_extension = e.image.extension;
  if (!e.text.extension.empty()) m.text = member(e.text), m.text_extension = e.text.extension;
  if (!e.label.extension.empty()) m.label = member(e.label), m.has_label = true;
  return m;
}

// Fisher-Yates with our own draws (std::shuffle's sequence differs between standard libraries).
std::vector<int32_t> shuffled(size_t n, uint64_t seed) {
  std::vector<int32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
  std::mt19937_64 rng(seed);
  for (int64_t i = static_cast<int64_t>(n) - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng() % static_cast<uint64_t>(i + 1)]);
  return order;
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
    Grouper group(options_.need_captions);
    Entry done;
    for (const TarMember& m : index.members) {
      auto [key, ext] = split_member_name(m.name);
      if (group.begin(static_cast<int32_t>(s), key, done)) samples_.push_back(std::move(done));
      if (MemberPart* part = part_for(group.current, ext)) *part = MemberPart{m.offset, m.size, ext};
    }
    if (group.end(done)) samples_.push_back(std::move(done));
    const int64_t incomplete_here = group.incomplete;
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
  return parse_captions(describe(index), e.text.extension,
                        read_file_range(shards_[static_cast<size_t>(e.shard)], e.text.offset, e.text.size),
                        options_.caption_field);
}

std::vector<std::string> parse_captions(const std::string& name, const std::string& extension, const std::string& bytes,
                                        const std::string& caption_field) {
  // Captions that are not UTF-8 (Latin-1 scraped text, cut bytes) are read with U+FFFD for their
  // ill-formed bytes, and said once: the vocabulary and every JSON output need UTF-8.
  const bool utf8 = is_utf8(bytes);
  if (!utf8) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true))
      spdlog::warn("{}.{}: not UTF-8; ill-formed bytes of captions are read as U+FFFD (said once)", name, extension);
  }
  const std::string text = utf8 ? bytes : repair_utf8(bytes);
  if (extension == "txt") return {trim(text)};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& ex) {
    throw SampleError(str_cat(name, ".json: not JSON (", ex.what(), ")"));
  }
  for (const std::string& field : {caption_field, std::string("caption"), std::string("text")}) {
    if (!j.is_object() || !j.contains(field)) continue;
    const nlohmann::json& v = j[field];
    if (v.is_string()) return {v.get<std::string>()};
    if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const nlohmann::json& x) { return x.is_string(); }))
      return v.get<std::vector<std::string>>();
    break;
  }
  throw SampleError(str_cat(name, ".json: no caption (a string or a list of strings under \"", caption_field, "\")"));
}

Sample decode_sample(const SampleMembers& m, const ImageTransform& transform, const text::Tokenizer* tokenizer,
                     int64_t context_length, const std::string& caption_field, std::mt19937_64& rng) {
  Sample s;
  s.image = transform_image_bytes(m.image, m.name + "." + m.image_extension, transform, rng);
  if (tokenizer && !m.text_extension.empty()) {
    const std::vector<std::string> all = parse_captions(m.name, m.text_extension, m.text, caption_field);
    if (all.empty()) throw SampleError(str_cat(m.name, ": empty caption list"));
    const size_t pick = all.size() == 1 ? 0 : static_cast<size_t>(rng() % all.size());
    s.text = at::tensor(tokenizer->tokenize(all[pick], context_length), at::kLong);
  }
  if (m.has_label) {
    const std::string text = trim(m.label);
    const std::optional<int64_t> label = parse_non_negative(text);
    if (!label)
      throw SampleError(str_cat(m.name, ".cls: expected a non-negative integer below 2^63, got \"", text.substr(0, 40),
                                text.size() > 40 ? "...\"" : "\""));
    s.label = *label;
  }
  return s;
}

Sample WebDataset::get(int64_t index, uint64_t seed) const {
  const Entry& e = samples_.at(static_cast<size_t>(index));
  std::mt19937_64 rng(seed);
  return decode_sample(read_members(shards_[static_cast<size_t>(e.shard)], describe(index), e), transform_,
                       tokenizer_.get(), context_length_, options_.caption_field, rng);
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

// ---- streamed shards ----

std::vector<int64_t> shard_sizes_from_stats(const std::vector<std::string>& shards) {
  namespace fs = std::filesystem;
  std::vector<int64_t> sizes(shards.size(), -1);
  std::map<std::string, nlohmann::json> sizes_json;  // per folder; null where there is none (or it is unreadable)
  auto read_json = [](const fs::path& path) -> nlohmann::json {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) > (64u << 20)) return nullptr;
    std::ifstream in(path);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      spdlog::warn("{}: not JSON; not used for the shards' sample counts", path.string());
      return nullptr;
    }
    return j;
  };
  auto count = [](const nlohmann::json& v) -> int64_t {
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) return v.get<int64_t>();
    if (v.is_string()) return parse_non_negative(v.get<std::string>()).value_or(-1);
    return -1;
  };
  for (size_t i = 0; i < shards.size(); ++i) {
    if (is_remote_shard(shards[i])) continue;
    const fs::path shard(shards[i]);
    const std::string folder = shard.parent_path().string();
    auto it = sizes_json.find(folder);
    if (it == sizes_json.end()) it = sizes_json.emplace(folder, read_json(shard.parent_path() / "sizes.json")).first;
    const nlohmann::json& listed = it->second;
    const std::string name = shard.filename().string();
    if (listed.is_object() && listed.contains(name)) sizes[i] = count(listed[name]);
    if (sizes[i] >= 0) continue;
    std::string stem = shard.filename().string();
    if (stem.size() > 4 && stem.substr(stem.size() - 4) == ".tar") stem.resize(stem.size() - 4);
    const nlohmann::json stats = read_json(shard.parent_path() / (stem + "_stats.json"));
    if (stats.is_object() && stats.contains("successes")) sizes[i] = count(stats["successes"]);
  }
  return sizes;
}

// One stream's share of an epoch: its shards, read front to back through the shuffle buffer.
class ShardStream : public SampleStream {
 public:
  ShardStream(const StreamedWebDataset& ds, const StreamPlace& place)
      : ds_(ds), place_(place), id_(place.rank * place.streams + place.stream), streams_(place.world * place.streams),
        capacity_(static_cast<size_t>(std::max<int64_t>(ds.options_.shuffle_buffer, 1))),
        buffer_rng_(mix_seed(place.seed, 2 * static_cast<uint64_t>(id_) + 1)),
        shard_rng_(mix_seed(place.seed, 2 * static_cast<uint64_t>(id_) + 2)), group_(ds.options_.need_captions) {
    // A resumed epoch: the samples this stream had taken are taken again, without decoding them (from
    // local files only their headers are read).
    for (int64_t i = 0; i < place.skip; ++i) take();
  }
  ~ShardStream() override { close_shard(/*at_end=*/false); }

  Sample next(uint64_t seed) override {
    Held h = take();
    const std::string name = last();
    if (!h.problem.empty()) throw SampleError(str_cat(name, ": ", h.problem));
    std::mt19937_64 rng(seed);
    return decode_sample(read_members(ds_.shards_[static_cast<size_t>(h.sample.shard)], name, h.sample,
                                      h.in_memory ? &h.bytes : nullptr),
                         ds_.transform_, ds_.tokenizer_.get(), ds_.context_length_, ds_.options_.caption_field, rng);
  }
  int64_t position() const override { return taken_; }
  // Named when asked (a log line), not for every sample taken (a resume passes over millions).
  std::string last() const override {
    return last_shard_ < 0 ? std::string() : str_cat(ds_.shards_[static_cast<size_t>(last_shard_)], ":", last_key_);
  }

 private:
  // A sample in the buffer; one read from a command holds its members' bytes (a local file's are
  // read when the sample is loaded).
  struct Held {
    ShardSample sample;
    bool in_memory = false;
    std::string bytes;
    std::string problem;  // why it cannot be used (a member too large to hold)
  };

  // The next sample out of the buffer. As webdataset's: it starts giving samples once it holds 100
  // and grows by one each time up to its capacity; each sample given is a uniform draw from it. At the
  // end of a pass over the stream's shards the buffer empties before the next pass starts, so a pass
  // gives each of its samples once.
  Held take() {
    const size_t target = std::min(capacity_, kInitial + static_cast<size_t>(taken_));
    while (buffer_.size() < target && !(draining_ && !buffer_.empty())) {
      draining_ = false;
      std::optional<Held> h = pull();
      if (h) buffer_.push_back(std::move(*h));
      else draining_ = true;
    }
    const size_t j = static_cast<size_t>(buffer_rng_() % buffer_.size());
    Held h = std::move(buffer_[j]);
    buffer_[j] = std::move(buffer_.back());
    buffer_.pop_back();
    ++taken_;
    last_shard_ = h.sample.shard;
    last_key_ = h.sample.key;
    return h;
  }

  // The next complete sample of this stream's shards; nullopt once at the end of each pass over them
  // (the next call begins a new pass).
  std::optional<Held> pull() {
    while (true) {
      if (!reader_ && !open_next_shard()) return std::nullopt;
      const std::optional<TarMember> m = reader_->next();
      ShardSample done;
      Held out;
      if (!m) {
        const bool kept = group_.end(done) && keep(std::move(done), out);
        close_shard(/*at_end=*/true);
        if (kept) return out;
        continue;
      }
      auto [key, ext] = split_member_name(m->name);
      const bool starts = !group_.open || key != group_.current.key;
      const bool kept = group_.begin(shard_, key, done) && keep(std::move(done), out);
      if (starts) current_bytes_.clear(), current_problem_.clear();  // the members of the sample before
      MemberPart* part = part_for(group_.current, ext);
      if (part) *part = MemberPart{m->offset, m->size, ext};
      if (part && !source_seekable_) {  // a command's output cannot be read again: hold the member
        std::string data;
        if (m->size > kMaxSampleBytes) {
          current_problem_ = str_cat(m->name, " has ", m->size, " bytes, more than a sample may have (",
                                     kMaxSampleBytes >> 20, " MiB)");
        } else if (reader_->read_data(data)) {
          part->offset = current_bytes_.size();
          current_bytes_ += data;
        } else {
          *part = MemberPart{};  // cut short: the sample lacks it
        }
      }
      if (kept) return out;
    }
  }

  // Takes a finished sample when it is this stream's (when the shards are fewer than the streams, every
  // stream reads every shard and keeps every streams_-th sample).
  bool keep(ShardSample done, Held& out) {
    const int64_t n = seen_++;
    if (split_samples_ && n % streams_ != id_) return false;
    shards_since_sample_ = 0;
    out.sample = std::move(done);
    out.in_memory = !source_seekable_;
    out.bytes = std::move(current_bytes_);
    out.problem = std::move(current_problem_);
    current_bytes_.clear();
    current_problem_.clear();
    return true;
  }

  // False at the end of a pass.
  bool open_next_shard() {
    if (!ds_.options_.resampled && plan_next_ >= plan_.size() && pass_ > 0 && !pass_ended_) {
      pass_ended_ = true;
      return false;
    }
    pass_ended_ = false;
    if (++shards_since_sample_ > 2 * static_cast<int64_t>(ds_.shards_.size()) + 2)
      throw Error(str_cat("no usable sample in ", shards_since_sample_ - 1,
                          " shard readings in a row; are the shards readable? (the log says what was wrong with them)"));
    if (ds_.options_.resampled) {
      shard_ = static_cast<int32_t>(shard_rng_() % ds_.shards_.size());
    } else {
      if (plan_next_ >= plan_.size()) plan_pass();
      shard_ = plan_[plan_next_++];
    }
    source_ = open_source(ds_.shards_[static_cast<size_t>(shard_)]);
    source_seekable_ = source_->seekable();
    reader_.emplace(*source_);
    group_ = Grouper(ds_.options_.need_captions);
    return true;
  }

  // This stream's shards for the next pass over the data: every process shuffles the list the same way
  // (by the epoch's seed and the pass), takes every world-th from its rank, then each of its streams
  // every streams-th of those (webdataset's split_by_node, then split_by_worker).
  void plan_pass() {
    const std::vector<int32_t> order = shuffled(ds_.shards_.size(), mix_seed(place_.seed, static_cast<uint64_t>(pass_)));
    if (pass_ == 1) {
      static std::atomic<bool> said{false};
      if (!said.exchange(true))
        spdlog::info("a loader stream read all its shards before the epoch's end and reads them again, reshuffled "
                     "(the epoch is longer than its share, or the shards are uneven; said once)");
    }
    ++pass_;
    plan_.clear();
    plan_next_ = 0;
    split_samples_ = static_cast<int64_t>(order.size()) < streams_;
    if (split_samples_) {
      static std::atomic<bool> said{false};
      if (!said.exchange(true))
        spdlog::info("webdataset: {} shards for {} loader streams ({} processes x {}): every stream reads every shard "
                     "and keeps every {}-th sample",
                     order.size(), streams_, place_.world, place_.streams, streams_);
      plan_ = order;
      return;
    }
    std::vector<int32_t> of_rank;
    for (size_t i = static_cast<size_t>(place_.rank); i < order.size(); i += static_cast<size_t>(place_.world))
      of_rank.push_back(order[i]);
    for (size_t i = static_cast<size_t>(place_.stream); i < of_rank.size(); i += static_cast<size_t>(place_.streams))
      plan_.push_back(of_rank[i]);
  }

  // Ends the current shard; what went wrong with it (damage, a failed command and its stderr) is
  // logged and counted. `at_end`: the reader finished the shard (to its end or to damage); else the
  // stream is given up mid-shard (the end of an epoch), which is no failure.
  void close_shard(bool at_end) {
    if (!reader_) return;
    const std::string problem = at_end ? finish_reading(*reader_, *source_) : source_->finish(false);
    const std::string& shard = ds_.shards_[static_cast<size_t>(shard_)];
    if (!problem.empty()) {
      const int64_t failed = ++ds_.failed_shards_;
      spdlog::warn("shard {}: {}; its samples before that point were used (failed shard readings so far: {})", shard,
                   problem, failed);
    }
    if (group_.incomplete > 0)
      spdlog::warn("shard {}: {} samples without an image{} left out", shard, group_.incomplete,
                   ds_.options_.need_captions ? " or a caption" : "");
    reader_.reset();
    source_.reset();
    current_bytes_.clear();
    current_problem_.clear();
  }

  static constexpr size_t kInitial = 100;
  const StreamedWebDataset& ds_;
  const StreamPlace place_;
  const int64_t id_, streams_;
  const size_t capacity_;
  std::mt19937_64 buffer_rng_, shard_rng_;
  std::vector<Held> buffer_;
  int64_t taken_ = 0;
  int32_t last_shard_ = -1;
  std::string last_key_;

  std::vector<int32_t> plan_;
  size_t plan_next_ = 0;
  int64_t pass_ = 0;
  bool split_samples_ = false, pass_ended_ = false, draining_ = false;
  int64_t seen_ = 0, shards_since_sample_ = 0;

  int32_t shard_ = -1;
  std::unique_ptr<ByteSource> source_;
  bool source_seekable_ = true;
  std::optional<TarReader> reader_;
  Grouper group_;
  std::string current_bytes_, current_problem_;
};

namespace {

// Samples in a local shard, from its headers (a sample counts as the stream would give it).
int64_t count_samples(const std::string& shard, bool need_captions) {
  const TarIndex index = scan_tar(shard);
  if (!index.problem.empty()) spdlog::warn("{}: {}; counting the members before that point", shard, index.problem);
  Grouper group(need_captions);
  ShardSample done;
  int64_t n = 0;
  for (const TarMember& m : index.members) {
    auto [key, ext] = split_member_name(m.name);
    n += group.begin(0, key, done) ? 1 : 0;
    if (MemberPart* part = part_for(group.current, ext)) *part = MemberPart{m.offset, m.size, ext};
  }
  return n + (group.end(done) ? 1 : 0);
}

}  // namespace

StreamedWebDataset::StreamedWebDataset(std::vector<std::string> shards, ImageTransform transform,
                                       std::shared_ptr<const text::Tokenizer> tokenizer, int64_t context_length,
                                       WebDatasetOptions options)
    : shards_(std::move(shards)), transform_(transform), tokenizer_(std::move(tokenizer)),
      context_length_(context_length), options_(std::move(options)) {
  MMCL_CHECK(!shards_.empty() && shards_.size() < (size_t{1} << 31), "webdataset: ", shards_.size(), " shards");
  samples_per_epoch_ = options_.samples_per_epoch;
  if (samples_per_epoch_ > 0) {
    spdlog::info("webdataset: {} shards streamed, {} samples an epoch (data.samples_per_epoch)", shards_.size(),
                 samples_per_epoch_);
    return;
  }
  // The epoch's length from img2dataset's counts where they are, else from the local shards' headers.
  const std::vector<int64_t> sizes = shard_sizes_from_stats(shards_);
  int64_t from_stats = 0, counted = 0, stats_shards = 0;
  std::vector<size_t> unknown;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] >= 0) from_stats += sizes[i], ++stats_shards;
    else unknown.push_back(i);
  }
  for (size_t i : unknown)
    if (is_remote_shard(shards_[i]))
      throw Error(str_cat("data.samples_per_epoch: needed for streamed shards that cannot be counted without reading "
                          "them (", shards_[i], " has no stats file); set it to the number of samples an epoch "
                          "should have (open_clip's --train-num-samples)"));
  const auto start = std::chrono::steady_clock::now();
  for (size_t i : unknown) counted += count_samples(shards_[i], options_.need_captions);
  samples_per_epoch_ = from_stats + counted;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!unknown.empty())
    spdlog::info("webdataset: counted {} samples in {} shards in {:.2f} s (set data.samples_per_epoch, or write "
                 "sizes.json, to start without reading them)",
                 counted, unknown.size(), seconds);
  spdlog::info("webdataset: {} samples in {} shards, streamed{}", samples_per_epoch_, shards_.size(),
               stats_shards > 0 ? str_cat(" (", stats_shards, " counted by their stats files)") : "");
  if (samples_per_epoch_ <= 0) throw Error("webdataset: the shards hold no usable sample");
}

Sample StreamedWebDataset::get(int64_t, uint64_t) const {
  throw Error("internal: streamed shards are read by a stream, not by index");
}

std::unique_ptr<SampleStream> StreamedWebDataset::open_stream(const StreamPlace& place) const {
  return std::make_unique<ShardStream>(*this, place);
}

void for_each_caption(const std::vector<std::string>& shards, const std::string& caption_field,
                      const std::function<void(std::string)>& f) {
  for (const std::string& shard : shards) {
    const std::unique_ptr<ByteSource> source = open_source(shard);
    TarReader reader(*source);
    std::string key, extension, text;
    auto flush = [&] {
      if (extension.empty()) return;
      try {
        for (std::string& caption : parse_captions(str_cat(shard, ":", key), extension, text, caption_field))
          f(std::move(caption));
      } catch (const SampleError& e) {
        spdlog::warn("skipping a caption: {}", e.what());
      }
      extension.clear();
    };
    while (const std::optional<TarMember> m = reader.next()) {
      auto [k, ext] = split_member_name(m->name);
      if (k != key) flush(), key = k;
      if ((ext == "txt" || ext == "json") && extension.empty() && m->size <= kMaxSampleBytes && reader.read_data(text))
        extension = ext;
    }
    flush();
    const std::string problem = finish_reading(reader, *source);
    if (!problem.empty()) spdlog::warn("shard {}: {}; its captions before that point were used", shard, problem);
  }
}

}  // namespace mmcl::data

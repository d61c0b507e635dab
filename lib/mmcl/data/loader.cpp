#include "mmcl/data/loader.h"

#include <algorithm>
#include <numeric>

#include <c10/util/Exception.h>

#include "mmcl/core/log.h"

namespace mmcl::data {
namespace {
constexpr int kMaxReplacements = 32;
}

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  MMCL_CHECK(dataset_ && dataset_->size() > 0, "the dataset is empty");
  MMCL_CHECK(options_.batch_size > 0, "batch size must be positive");
  MMCL_CHECK(options_.world >= 1 && options_.rank >= 0 && options_.rank < options_.world, "loader: rank ",
             options_.rank, " outside a world of ", options_.world);
  MMCL_CHECK(options_.world == 1 || options_.drop_last, "loader: several processes need drop_last");
  MMCL_CHECK(!options_.drop_last || dataset_->size() >= options_.batch_size * options_.world, "the dataset has ",
             dataset_->size(), " samples, fewer than one batch of ", options_.batch_size,
             options_.world > 1 ? str_cat(" per process x ", options_.world, " processes") : std::string());
}

Loader::~Loader() { stop_workers(); }

int64_t Loader::batches_per_epoch() const {
  const int64_t n = dataset_->size(), b = options_.batch_size;
  return options_.drop_last ? n / (b * options_.world) : (n + b - 1) / b;
}

int64_t Loader::skipped() const {
  std::lock_guard<std::mutex> lock(skip_mutex_);
  return skipped_;
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  consumed_.notify_all();
  produced_.notify_all();
  for (Worker& w : workers_)
    if (w.thread.joinable()) w.thread.join();
  workers_.clear();
  stopping_ = false;
}

std::vector<int64_t> Loader::positions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return positions_;
}

void Loader::resume_positions(int64_t epoch, int64_t first_batch, std::vector<int64_t> positions) {
  resume_ = Resume{epoch, first_batch, std::move(positions)};
}

std::unique_ptr<SampleStream> Loader::open_stream(int64_t stream) const {
  StreamPlace place;
  place.seed = epoch_seed();
  place.rank = options_.rank;
  place.world = options_.world;
  place.stream = stream;
  place.streams = streams();
  place.skip = start_positions_[static_cast<size_t>(stream)];
  return dataset_->open_stream(place);
}

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  first_batch_ = first_batch;
  next_batch_ = first_batch;
  if (dataset_->streamed()) {
    const int64_t n = streams();
    start_positions_.assign(static_cast<size_t>(n), 0);
    if (resume_.epoch == epoch && resume_.first_batch == first_batch && static_cast<int64_t>(resume_.positions.size()) == n) {
      start_positions_ = resume_.positions;
    } else {
      if (resume_.epoch == epoch && resume_.first_batch == first_batch)
        spdlog::warn("the checkpoint's data positions are for {} loader streams, this run has {}: the epoch goes on from "
                     "an estimate, not exactly where it stopped",
                     resume_.positions.size(), n);
      // Stream w built the batches b < first_batch with b % n == w, batch_size samples each.
      for (int64_t w = 0; w < n && w < first_batch; ++w)
        start_positions_[static_cast<size_t>(w)] = ((first_batch - 1 - w) / n + 1) * options_.batch_size;
    }
    resume_ = Resume{};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      positions_ = start_positions_;
    }
    own_stream_.reset();
    if (options_.workers == 0) own_stream_ = open_stream(0);
  } else if (options_.shuffle) {
    order_ = dataset_->epoch_order(epoch_seed());
    MMCL_CHECK(static_cast<int64_t>(order_.size()) == dataset_->size(), "the epoch order does not cover the dataset");
  } else {
    order_.resize(static_cast<size_t>(dataset_->size()));
    std::iota(order_.begin(), order_.end(), 0);
  }
  workers_ = std::vector<Worker>(static_cast<size_t>(options_.workers));
  for (size_t w = 0; w < workers_.size(); ++w)
    workers_[w].thread = std::thread([this, w, first_batch] { run_worker(w, first_batch); });
}

void Loader::run_worker(size_t w, int64_t first_batch) {
  const int64_t n_workers = static_cast<int64_t>(workers_.size());
  std::unique_ptr<SampleStream> stream;
  int64_t b = first_batch + static_cast<int64_t>(w);  // this worker's batches: b, b + workers, ...
  if (dataset_->streamed()) {
    // Stream w builds the batches b % workers == w: the first at or after first_batch.
    b = first_batch + ((static_cast<int64_t>(w) - first_batch) % n_workers + n_workers) % n_workers;
    try {
      stream = open_stream(static_cast<int64_t>(w));
    } catch (...) {
      Slot slot;
      slot.error = std::current_exception();
      std::lock_guard<std::mutex> lock(mutex_);
      workers_[w].ready.push_back(std::move(slot));
      produced_.notify_all();
      return;
    }
  }
  for (; b < batches_per_epoch(); b += n_workers) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      consumed_.wait(lock, [&] { return stopping_ || static_cast<int64_t>(workers_[w].ready.size()) < options_.prefetch; });
      if (stopping_) return;
    }
    Slot slot;
    try {
      slot.batch = stream ? stream_batch(*stream, static_cast<int64_t>(w)) : load_batch(b);
      if (stream) slot.position = stream->position();
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      workers_[w].ready.push_back(std::move(slot));
    }
    produced_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (next_batch_ >= batches_per_epoch()) return std::nullopt;
  const int64_t b = next_batch_++;
  if (workers_.empty()) {
    if (!own_stream_) return load_batch(b);
    Batch batch = stream_batch(*own_stream_, 0);
    std::lock_guard<std::mutex> lock(mutex_);
    positions_[0] = own_stream_->position();
    return batch;
  }
  const int64_t n_workers = static_cast<int64_t>(workers_.size());
  const size_t w_index = static_cast<size_t>(dataset_->streamed() ? b % n_workers : (b - first_batch_) % n_workers);
  Worker& w = workers_[w_index];
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    produced_.wait(lock, [&] { return !w.ready.empty(); });
    slot = std::move(w.ready.front());
    w.ready.pop_front();
    if (dataset_->streamed() && !slot.error) positions_[w_index] = slot.position;
  }
  consumed_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

Batch Loader::load_batch(int64_t batch) const {
  const int64_t n = dataset_->size();
  const int64_t begin = (batch * options_.world + options_.rank) * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, n);
  std::vector<Sample> samples;
  samples.reserve(static_cast<size_t>(end - begin));
  for (int64_t p = begin; p < end; ++p) samples.push_back(load_sample(p));
  return assemble(samples);
}

Batch Loader::assemble(const std::vector<Sample>& samples) const {
  return options_.pin_memory ? collate(samples).pin_memory() : collate(samples);
}

uint64_t Loader::epoch_seed() const { return mix_seed(options_.seed, static_cast<uint64_t>(epoch_)); }

void Loader::skip(const std::string& name, const std::string& why) const {
  std::lock_guard<std::mutex> lock(skip_mutex_);
  ++skipped_;
  if (logged_.insert(name).second) spdlog::warn("skipping sample {}: {} (skipped so far: {})", name, why, skipped_);
}

Batch Loader::stream_batch(SampleStream& stream, int64_t stream_index) const {
  std::vector<Sample> samples;
  samples.reserve(static_cast<size_t>(options_.batch_size));
  const uint64_t stream_seed = mix_seed(epoch_seed(), static_cast<uint64_t>(options_.rank * streams() + stream_index));
  int failures = 0;
  while (static_cast<int64_t>(samples.size()) < options_.batch_size) {
    // A sample's random draws follow from its stream and place in it, whichever thread loads it.
    const uint64_t seed = mix_seed(stream_seed, static_cast<uint64_t>(stream.position()));
    if (std::optional<Sample> s = try_load([&] { return stream.next(seed); }, [&] { return stream.last(); })) {
      samples.push_back(std::move(*s));
      failures = 0;
      continue;
    }
    if (++failures > kMaxReplacements)
      throw Error(str_cat("more than ", kMaxReplacements, " unusable samples in a row (the last: ", stream.last(),
                          "); is the dataset readable?"));
  }
  return assemble(samples);
}

Sample Loader::load_sample(int64_t position) const {
  const int64_t n = dataset_->size();
  for (int attempt = 0; attempt <= kMaxReplacements; ++attempt) {
    // A failed sample is replaced by one half an epoch away, then further along.
    const int64_t p = attempt == 0 ? position : (position + n / 2 + attempt - 1) % n;
    const int64_t index = order_[static_cast<size_t>(p)];
    const uint64_t seed = mix_seed(epoch_seed(), static_cast<uint64_t>(index));
    if (std::optional<Sample> s = try_load([&] { return dataset_->get(index, seed); },
                                           [&] { return dataset_->describe(index); })) {
      s->index = index;
      return std::move(*s);
    }
  }
  throw Error(str_cat("more than ", kMaxReplacements, " unusable samples in a row near position ", position,
                      " of the epoch; is the dataset readable?"));
}

}  // namespace mmcl::data

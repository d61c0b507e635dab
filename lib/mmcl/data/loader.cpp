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

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  first_batch_ = first_batch;
  next_batch_ = first_batch;
  if (options_.shuffle) {
    order_ = dataset_->epoch_order(mix_seed(options_.seed, static_cast<uint64_t>(epoch)));
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
  // This worker's batches: first_batch + w, first_batch + w + workers, ...
  for (int64_t b = first_batch + static_cast<int64_t>(w); b < batches_per_epoch(); b += n_workers) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      consumed_.wait(lock, [&] { return stopping_ || static_cast<int64_t>(workers_[w].ready.size()) < options_.prefetch; });
      if (stopping_) return;
    }
    Slot slot;
    try {
      slot.batch = load_batch(b);
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
  if (workers_.empty()) return load_batch(b);
  Worker& w = workers_[static_cast<size_t>((b - first_batch_) % static_cast<int64_t>(workers_.size()))];
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    produced_.wait(lock, [&] { return !w.ready.empty(); });
    slot = std::move(w.ready.front());
    w.ready.pop_front();
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
  return options_.pin_memory ? collate(samples).pin_memory() : collate(samples);
}

void Loader::skip(int64_t index, const std::string& why) const {
  std::lock_guard<std::mutex> lock(skip_mutex_);
  ++skipped_;
  if (logged_.insert(index).second)
    spdlog::warn("skipping sample {}: {} (skipped so far: {})", dataset_->describe(index), why, skipped_);
}

Sample Loader::load_sample(int64_t position) const {
  const int64_t n = dataset_->size();
  for (int attempt = 0; attempt <= kMaxReplacements; ++attempt) {
    // A failed sample is replaced by one half an epoch away, then further along.
    const int64_t p = attempt == 0 ? position : (position + n / 2 + attempt - 1) % n;
    const int64_t index = order_[static_cast<size_t>(p)];
    const uint64_t seed = mix_seed(mix_seed(options_.seed, static_cast<uint64_t>(epoch_)), static_cast<uint64_t>(index));
    try {
      Sample s = dataset_->get(index, seed);
      s.index = index;
      return s;
    } catch (const SampleError& e) {
      skip(index, e.what());
    } catch (const std::bad_alloc&) {  // a sample too large for this machine's memory: the run goes on
      skip(index, "out of memory while loading it");
    } catch (const c10::OutOfMemoryError&) {
      skip(index, "out of memory while loading it");
    }
  }
  throw Error(str_cat("more than ", kMaxReplacements, " unusable samples in a row near position ", position,
                      " of the epoch; is the dataset readable?"));
}

}  // namespace mmcl::data

#pragma once
// Batches from a Dataset, built by worker threads into a bounded prefetch queue.
//
// Determinism: the order of an epoch is a shuffle seeded by (seed, epoch); sample i of the epoch is
// loaded with seed mix(seed, epoch, index); batch b is built by worker (b - first) % workers and handed
// out in order. So the batches depend only on (seed, epoch, batch), never on thread timing, and an epoch can
// start at any batch (resume).
//
// With several processes (world > 1) every rank draws the same epoch order and global batch b covers
// positions [b * B * world, (b + 1) * B * world); rank r takes the r-th block of B of them. So the ranks
// read disjoint samples, together visit each sample once per epoch, and their batches concatenated in
// rank order are the batch of B * world a single process would take. A sample that fails to load is skipped, counted, logged once with
// its name, and replaced by another sample of the epoch.
//
// A streamed dataset (webdataset shards) has no order to draw: each process runs max(workers, 1)
// streams, stream w builds the batches b with b % streams == w from the samples it reads, in turn,
// and a failed sample is replaced by the stream's next one. Each stream's position (samples taken) after
// the last batch handed out is what a checkpoint records to resume the epoch exactly.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <c10/util/Exception.h>

#include "mmcl/data/dataset.h"

namespace mmcl::data {

struct LoaderOptions {
  int64_t batch_size = 32;
  int64_t workers = 0;   // 0: load on the calling thread
  int64_t prefetch = 2;  // batches each worker may have ready
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = true;
  int64_t rank = 0;   // this process's shard of every global batch
  int64_t world = 1;  // processes sharing the epoch
  bool pin_memory = false;  // batches in page-locked memory (for non-blocking copies to a CUDA device)
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const;
  int64_t batch_size() const { return options_.batch_size; }
  // Begins `epoch` at batch `first_batch` (stopping any epoch in flight).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch, or nullopt at its end.
  std::optional<Batch> next();
  // Samples skipped so far because they failed to load.
  int64_t skipped() const;

  // Streamed datasets: the positions of this process's streams after the batches handed out so far;
  // and positions to resume from, used by the next start_epoch(epoch, first_batch) with the same
  // arguments (else, or when their count differs, each stream passes over batch_size samples per batch
  // of its own before first_batch: exact when no sample before was skipped).
  bool streamed() const { return dataset_->streamed(); }
  int64_t streams() const { return std::max<int64_t>(options_.workers, 1); }
  std::vector<int64_t> positions() const;
  void resume_positions(int64_t epoch, int64_t first_batch, std::vector<int64_t> positions);

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
    int64_t position = 0;  // the stream's position after this batch
  };
  struct Worker {
    std::thread thread;
    std::deque<Slot> ready;
  };

  Batch load_batch(int64_t batch) const;
  Sample load_sample(int64_t position) const;
  Batch stream_batch(SampleStream& stream, int64_t stream_index) const;
  Batch assemble(const std::vector<Sample>& samples) const;  // collated (and pinned when asked)
  uint64_t epoch_seed() const;                               // (run seed, epoch)
  // load(), or nullopt when the sample is unusable (a SampleError, out of memory): then it is skipped,
  // counted and logged under name().
  template <class Load, class Name>
  std::optional<Sample> try_load(Load&& load, Name&& name) const {
    try {
      return load();
    } catch (const SampleError& e) {
      skip(name(), e.what());
    } catch (const std::bad_alloc&) {  // a sample too large for this machine's memory: the run goes on
      skip(name(), "out of memory while loading it");
    } catch (const c10::OutOfMemoryError&) {
      skip(name(), "out of memory while loading it");
    }
    return std::nullopt;
  }
  std::unique_ptr<SampleStream> open_stream(int64_t stream) const;
  void skip(const std::string& name, const std::string& why) const;  // counted, logged once per sample
  void run_worker(size_t w, int64_t first_batch);
  void stop_workers();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
  int64_t first_batch_ = 0;  // the epoch started here; worker w builds batches first_batch_ + w + k * workers
  int64_t next_batch_ = 0;
  std::unique_ptr<SampleStream> own_stream_;  // streamed, no workers: the calling thread's
  std::vector<int64_t> start_positions_, positions_;
  struct Resume {
    int64_t epoch = -1, first_batch = -1;
    std::vector<int64_t> positions;
  } resume_;

  std::vector<Worker> workers_;
  mutable std::mutex mutex_;
  std::condition_variable produced_, consumed_;
  bool stopping_ = false;

  mutable std::mutex skip_mutex_;
  mutable int64_t skipped_ = 0;
  mutable std::set<std::string> logged_;
};

}  // namespace mmcl::data

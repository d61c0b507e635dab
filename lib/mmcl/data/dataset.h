#pragma once
// A dataset is a random-access list of samples. Loading one is deterministic given (index, seed):
// the loader derives the seed from the run seed, the epoch and the index, so the same sample comes
// out whichever worker thread loads it, and a resumed run sees the same data as an unbroken one.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mmcl/config/config.h"
#include "mmcl/core/error.h"
#include "mmcl/data/batch.h"

namespace mmcl::text {
class Tokenizer;
}
namespace mmcl::data {

// What the model consumes; datasets size their outputs to it.
struct InputSpec {
  int64_t image_size = 224;
  int64_t image_views = 1;    // augmented views per image sample (SimCLR's two)
  int64_t context_length = 77;
  int64_t vocab_size = 49408;
  std::shared_ptr<const text::Tokenizer> tokenizer;  // turns captions into ids (datasets with captions)
  int64_t video_frames = 16;  // clips: frames and frame side
  int64_t video_size = 112;
  int64_t video_views = 1;    // clips per sample (CVRL's two views)
  int64_t audio_samples = 0;  // > 0: each video sample also holds this many waveform samples from the clip's start
  int64_t audio_rate = 16000; // Hz, the waveform's sample rate
};

// A sample that cannot be loaded (missing, unreadable, corrupt). The loader skips, counts and logs it.
class SampleError : public Error {
 public:
  using Error::Error;
};

// Where a stream sits among the streams of an epoch: processes (ranks) split the shards first, then the
// loader streams (workers) of each process split their process's share, as webdataset's split_by_node
// and split_by_worker.
struct StreamPlace {
  uint64_t seed = 0;  // the epoch's seed: the shards' order and every stream's buffer follow from it
  int64_t rank = 0, world = 1;
  int64_t stream = 0, streams = 1;  // within the process
  int64_t skip = 0;                 // samples to pass over first (a resumed epoch)
};

// An endless sequence of samples read front to back (a streamed dataset's share of an epoch).
class SampleStream {
 public:
  virtual ~SampleStream() = default;
  // Takes the next sample and loads it with `seed`; throws SampleError when it is unusable (it is
  // taken all the same).
  virtual Sample next(uint64_t seed) = 0;
  // Samples taken so far, good or bad: with the place, all a resume needs.
  virtual int64_t position() const = 0;
  // The name of the sample taken last (for a log line).
  virtual std::string last() const = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Throws SampleError when the sample is unusable.
  virtual Sample get(int64_t index, uint64_t seed) const = 0;
  // How to name the sample in a log line (a path, a shard member).
  virtual std::string describe(int64_t index) const { return "#" + std::to_string(index); }
  // The order of a shuffled epoch, a permutation of [0, size) drawn from `seed`. By default a uniform
  // shuffle; streamed sources (webdataset shards) shuffle shards and then within a buffer.
  virtual std::vector<int64_t> epoch_order(uint64_t seed) const;

  // A streamed dataset is read front to back by streams instead of get(); size() is then the length
  // of an epoch, not a count of addressable samples.
  virtual bool streamed() const { return false; }
  virtual std::unique_ptr<SampleStream> open_stream(const StreamPlace& place) const;
};

using DatasetFactory =
    std::function<std::shared_ptr<Dataset>(const config::DataConfig&, const InputSpec&, uint64_t seed)>;

// Builds the dataset named by config.type (the table is in registry.cpp).
std::shared_ptr<Dataset> make_dataset(const config::DataConfig& config, const InputSpec& spec, uint64_t seed);
// Every caption of the training data of `config` (to learn a vocabulary from).
std::vector<std::string> training_captions(const config::DataConfig& config);

// splitmix64: a well-mixed 64-bit hash used to derive independent seeds.
uint64_t mix_seed(uint64_t a, uint64_t b);

// The starts of n evaluation views (clips, audio windows) spread evenly over `slack` seconds: its middle
// for one view, both ends and equal steps between for more.
std::vector<double> evenly_spaced(double slack, int64_t n);

}  // namespace mmcl::data

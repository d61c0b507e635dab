#pragma once
// How fast the model of a resolved run trains and infers on this machine: forward + backward + AdamW
// steps on a synthetic batch of data.batch_size after warm-up steps, the forward pass alone (eval
// mode, no gradients), and, when the run has training data, the data pipeline alone.

#include <optional>
#include <string>

#include "mmcl/core/runtime.h"
#include "mmcl/data/batch.h"
#include "mmcl/perf/measure.h"
#include "mmcl/run/run.h"

namespace mmcl::perf {

struct TrainBenchOptions {
  int64_t steps = 20, warmup = 3;
  int64_t data_batches = 20;  // batches of the data pipeline to time (0: skip)
  int64_t profile_steps = 0;  // more training steps and forward passes under an OpProfiler (0: none)
};

struct DataRate {
  int64_t batches = 0;
  double samples_per_s = 0;
};

struct TrainBench {
  int64_t parameters = 0, batch = 0;
  Measured train, inference;
  double last_loss = 0;
  std::optional<DataRate> data;  // when the run has a dataset and options.data_batches > 0
};

TrainBench bench_training(const run::Run& run, const TrainBenchOptions& options, const Runtime& runtime);

// A random batch of what the run's model reads (its input spec and table entry), on its device:
// images with captions of random length ending in the end token (the largest id), or clips (and
// their views, soundtracks and captions).
data::Batch synthetic_batch(const run::Run& run, int64_t n);

}  // namespace mmcl::perf

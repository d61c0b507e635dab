#pragma once
// Timing and counting for benchmarks: FLOPs of the operators a step runs, step times after warm-up,
// percentiles, peak memory.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace mmcl::perf {

// The FLOPs of the matrix products, convolutions and fused attention kernels the process runs while
// the counter is alive (a multiply-add is 2 FLOPs). Everything else (norms, activations, softmax) is
// left out: a small share of a transformer's work and none of the GEMM rate this reports. One counter
// at a time.
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  double flops() const;

 private:
  uint64_t handle_;
};

// Where a step's time goes, by operator: the self time of each operator (its wall time less that of the
// operators it calls) the process runs on any thread while the profiler is alive, as LibTorch's
// RecordFunction reports them (aten ops, autograd nodes, the optimizer's fused kernels). Work an
// operator hands to intra-op threads counts as its own. Operators run inside an optimizer step (the
// "Optimizer.step" scope train::step_optimizer opens, or torch.optim's "Optimizer.step#...") are named
// "Optimizer.step/<op>". On a GPU the times are of the host side only. One profiler at a time.
struct OpTime {
  std::string name;
  int64_t calls = 0;
  double self_s = 0;
};
class OpProfiler {
 public:
  OpProfiler();
  ~OpProfiler();
  OpProfiler(const OpProfiler&) = delete;
  OpProfiler& operator=(const OpProfiler&) = delete;
  // Every operator seen so far, most self time first.
  std::vector<OpTime> times() const;

 private:
  uint64_t handle_;
};

struct Measured {
  double flops = 0;              // of one step
  std::vector<double> seconds;   // of each timed step
  std::vector<OpTime> profile;   // per step, over `profile_steps` more steps, when asked for
  double profiled_s = 0;         // the wall time of those steps per step (the profiler's own cost included)
};
// `warmup` untimed runs of `step`, one run with its FLOPs counted, then `steps` timed runs (each
// waits for the device), then `profile_steps` more runs under an OpProfiler.
Measured measure(const std::function<void()>& step, const c10::Device& device, int64_t warmup, int64_t steps,
                 int64_t profile_steps = 0);

// Waits for the device's queued work (nothing on the CPU).
void synchronize(const c10::Device& device);
// The q-quantile (0..1) of `values`, interpolated linearly; 0 for none.
double percentile(std::vector<double> values, double q);
// The process's peak resident memory (MiB).
double peak_rss_mb();

// The machine's limit for a model's FLOP rate: the best rate (GFLOP/s) of an n x n by n x n matrix
// product in `dtype` on `device` with the current intra-op threads, over `repeats` timed products after
// an untimed one (2 n^3 FLOPs each). Training and inference rows report their GFLOP/s against it.
double gemm_peak_gflops(const c10::Device& device, c10::ScalarType dtype, int64_t n = 2048, int repeats = 5);
// The CPU's matrix instruction sets LibTorch detected (e.g. "avx512", "avx512_bf16", "amx_bf16"),
// those it reports as present.
std::vector<std::string> cpu_matrix_features();

}  // namespace mmcl::perf

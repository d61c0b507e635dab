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

struct Measured {
  double flops = 0;              // of one step
  std::vector<double> seconds;   // of each timed step
};
// `warmup` untimed runs of `step`, one run with its FLOPs counted, then `steps` timed runs (each
// waits for the device).
Measured measure(const std::function<void()>& step, const c10::Device& device, int64_t warmup, int64_t steps);

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

#pragma once
// Device, threads and seeding: the process-wide settings a run starts with.

#include <cstdint>
#include <memory>
#include <string>

#include <c10/core/Device.h>

#include "mmcl/core/choices.h"

namespace mmcl::dist {
class Group;
}
namespace mmcl {

// cpu | cuda | auto -> a device. "cuda" without a usable GPU is a ConfigError naming runtime.device.
c10::Device select_device(DeviceChoice choice);
// Sets the intra-op thread count (0: every core) and returns it.
int configure_threads(int64_t requested);
// The BLAS LibTorch was built with (MKL in the PyPI wheels) and the BLAS shared library the process
// loaded, if any (resolved through Debian's alternatives).
std::string blas_library();
std::string torch_version();
// The CUDA version LibTorch was built with and the GPUs visible, or "none (CPU-only build)".
std::string cuda_description();
// The OpenMP version LibTorch uses ("4.5"), or "none".
std::string openmp_description();
// "LibTorch 2.11.0 | CUDA 13.0 (1 GPU) | BLAS MKL (linked into LibTorch) | OpenMP 4.5": the start-up line.
std::string build_description();
// Seeds LibTorch's generators (CPU and, when present, CUDA).
void seed_everything(uint64_t seed);

// The most memory LibTorch's CUDA allocator has held for tensors on `device` since the process started,
// in MiB; 0 for a CPU device or a build without CUDA.
double gpu_peak_memory_mb(const c10::Device& device);

struct Runtime {
  c10::Device device = c10::Device("cpu");
  int threads = 1;
  std::shared_ptr<dist::Group> group;  // the processes of a distributed run; null: this process alone
};
// Sets runtime.threads for the (resolved) device, keeps freed memory in the heap (glibc's mmap and trim thresholds at 1 GiB;
// MMCL_NO_MALLOPT=1 keeps the defaults) and logs LibTorch version, device, threads and BLAS once.
Runtime setup_runtime(const c10::Device& device, int64_t threads);

}  // namespace mmcl

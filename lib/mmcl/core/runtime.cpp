#include "mmcl/core/runtime.h"

#include <link.h>
#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"

namespace mmcl {

c10::Device select_device(const std::string& name) {
  if (name == "cpu") return c10::Device("cpu");
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda)
      throw ConfigError("runtime.device: cuda requested, but this LibTorch build has no CUDA support or no GPU is "
                        "visible (use cpu or auto)");
    return c10::Device("cuda");
  }
  return cuda ? c10::Device("cuda") : c10::Device("cpu");
}

int configure_threads(int64_t requested) {
  int n = requested > 0 ? static_cast<int>(requested) : static_cast<int>(std::thread::hardware_concurrency());
  if (n < 1) n = 1;
  at::set_num_threads(n);
  return at::get_num_threads();
}

std::string blas_library() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("blas") == std::string::npos) return 0;
        char resolved[PATH_MAX];
        if (realpath(name.c_str(), resolved)) name = resolved;
        auto* out = static_cast<std::string*>(data);
        if (out->empty() || name.find("openblas") != std::string::npos || name.find("mkl") != std::string::npos)
          *out = name;
        return 0;
      },
      &found);
  if (found.empty()) return "unknown (none loaded as a shared library)";
  if (found.find("openblas") != std::string::npos) return found + " (OpenBLAS)";
  if (found.find("mkl") != std::string::npos) return found + " (MKL)";
  if (found.find("blis") != std::string::npos) return found + " (BLIS)";
  if (found.find("/blas/") != std::string::npos) return found + " (reference BLAS: slow, install libopenblas0-openmp)";
  return found;
}

std::string torch_version() { return TORCH_VERSION; }

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // seeds the CPU generator and every CUDA device's
}

Runtime setup_runtime(const config::RuntimeConfig& config) {
  Runtime rt;
  rt.device = select_device(config.device);
  rt.threads = configure_threads(config.threads);
  // Training frees and reallocates the same large activation buffers every step; glibc serves blocks
  // over its mmap threshold with fresh mappings, so each step paid page faults and zeroing (a fifth
  // of a CPU step in a profile). Keeping freed memory in the heap instead made clip-vit-tiny training
  // about 1.3x faster at the same peak RSS. MMCL_NO_MALLOPT=1 keeps glibc's defaults (for comparison).
  if (!std::getenv("MMCL_NO_MALLOPT")) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  spdlog::info("LibTorch {} | device {} | {} intra-op threads | BLAS {}", torch_version(), rt.device.str(),
               rt.threads, blas_library());
  return rt;
}

}  // namespace mmcl

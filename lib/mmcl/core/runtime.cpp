#include "mmcl/core/runtime.h"

#include <link.h>
#include <malloc.h>

#include <climits>
#include <cstdlib>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#if MMCL_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"

namespace mmcl {

c10::Device select_device(DeviceChoice choice) {
  if (choice == DeviceChoice::cpu) return c10::Device("cpu");
  const bool cuda = torch::cuda::is_available();
  if (choice == DeviceChoice::cuda) {
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

namespace {

// "KEY=value" from LibTorch's build settings (at::show_config()), or "".
std::string build_setting(const std::string& config, const std::string& key) {
  const std::string pattern = key + "=";
  for (size_t at = config.find(pattern); at != std::string::npos; at = config.find(pattern, at + 1)) {
    if (at > 0 && config[at - 1] != ' ' && config[at - 1] != '\n') continue;  // not BLAS_INFO inside LAPACK_BLAS_INFO
    const size_t start = at + pattern.size();
    const size_t end = config.find_first_of(",\n", start);
    return config.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return "";
}

const std::string& show_config() {
  static const std::string config = at::show_config();
  return config;
}

// The BLAS shared library the process loaded (resolved through symbolic links, e.g. Debian's
// alternatives), or "".
std::string loaded_blas() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        std::string name = info->dlpi_name ? info->dlpi_name : "";
        // A CPU BLAS: not cuBLAS/cuBLASLt (CUDA), hipBLAS or the like, which LibTorch loads beside it.
        if (name.find("blas") == std::string::npos || name.find("cublas") != std::string::npos ||
            name.find("hipblas") != std::string::npos)
          return 0;
        char resolved[PATH_MAX];
        if (realpath(name.c_str(), resolved)) name = resolved;
        auto* out = static_cast<std::string*>(data);
        if (out->empty() || name.find("openblas") != std::string::npos || name.find("mkl") != std::string::npos)
          *out = name;
        return 0;
      },
      &found);
  return found;
}

}  // namespace

std::string blas_library() {
  const std::string built = build_setting(show_config(), "BLAS_INFO");
  const std::string loaded = loaded_blas();
  if (built == "mkl") return loaded.empty() ? "MKL (linked into LibTorch)" : "MKL (" + loaded + ")";
  if (!loaded.empty()) {
    if (loaded.find("openblas") != std::string::npos) return "OpenBLAS (" + loaded + ")";
    if (loaded.find("/blas/") != std::string::npos) return "reference BLAS (" + loaded + "; slow)";
    return loaded;
  }
  return built.empty() ? "unknown" : built;
}

std::string cuda_description() {
  const std::string version = build_setting(show_config(), "CUDA_VERSION");
  if (!MMCL_WITH_CUDA || version.empty()) return "none (CPU-only build)";
  const int gpus = static_cast<int>(torch::cuda::device_count());  // a DeviceIndex is a char
  return str_cat(version, gpus == 0 ? " (no GPU visible)" : str_cat(" (", gpus, gpus == 1 ? " GPU" : " GPUs", ")"));
}

std::string openmp_description() {
  const std::string& config = show_config();
  const size_t at = config.find("OpenMP ");
  if (at == std::string::npos) return "none";
  const size_t open = config.find("(a.k.a. ", at), end = config.find_first_of(")\n", at);
  // "OpenMP 201511 (a.k.a. OpenMP 4.5)" -> "4.5"
  std::string version = open != std::string::npos && open < end ? config.substr(open + 8, end - open - 8)
                                                               : config.substr(at + 7, end - at - 7);
  if (version.rfind("OpenMP ", 0) == 0) version = version.substr(7);
  return version;
}

double gpu_peak_memory_mb(const c10::Device& device) {
#if MMCL_WITH_CUDA
  if (!device.is_cuda()) return 0;
  const c10::DeviceIndex index = device.has_index() ? device.index() : 0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  return static_cast<double>(stats.allocated_bytes[aggregate].peak) / (1024.0 * 1024.0);
#else
  (void)device;
  return 0;
#endif
}

std::string build_description() {
  // Logged at start-up and again with the run directory: worked out once (the loaded libraries and the
  // GPUs visible do not change while the process runs).
  static const std::string text = [] {
    const std::string openmp = openmp_description();
    return str_cat("LibTorch ", torch_version(), " | CUDA ", cuda_description(), " | BLAS ", blas_library(), " | ",
                   openmp == "none" ? "no OpenMP" : "OpenMP " + openmp);
  }();
  return text;
}

std::string torch_version() { return TORCH_VERSION; }

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);  // seeds the CPU generator and every CUDA device's
}

Runtime setup_runtime(const c10::Device& device, int64_t threads) {
  Runtime rt;
  rt.device = device;
  rt.threads = configure_threads(threads);
  // Training frees and reallocates the same large activation buffers every step; glibc serves blocks
  // over its mmap threshold with fresh mappings, so each step paid page faults and zeroing (a fifth
  // of a CPU step in a profile). Keeping freed memory in the heap instead made clip-vit-tiny training
  // about 1.3x faster at the same peak RSS. MMCL_NO_MALLOPT=1 keeps glibc's defaults (for comparison).
  if (!std::getenv("MMCL_NO_MALLOPT")) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  spdlog::info("{} | device {} | {} intra-op threads", build_description(), rt.device.str(), rt.threads);
  return rt;
}

}  // namespace mmcl

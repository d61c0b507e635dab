#include "mmcl/perf/measure.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include <ATen/ATen.h>
#include <ATen/cpu/Utils.h>
#include <ATen/record_function.h>
#include <torch/cuda.h>

namespace mmcl::perf {
namespace {

std::atomic<int64_t> counted_flops{0};

int64_t numel(const c10::IntArrayRef& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

void count_op(const at::RecordFunction& fn) {
  const std::string name = fn.name();
  const auto inputs = fn.inputs();
  auto size = [&](size_t i) { return inputs[i].toTensor().sizes(); };
  auto is_tensor = [&](size_t i) { return inputs.size() > i && inputs[i].isTensor(); };
  int64_t f = 0;
  if (name == "aten::mm" && is_tensor(1)) {
    f = 2 * size(0)[0] * size(0)[1] * size(1)[1];
  } else if (name == "aten::addmm" && is_tensor(2)) {
    f = 2 * size(1)[0] * size(1)[1] * size(2)[1];
  } else if (name == "aten::bmm" && is_tensor(1)) {
    f = 2 * size(0)[0] * size(0)[1] * size(0)[2] * size(1)[2];
  } else if (name == "aten::baddbmm" && is_tensor(2)) {
    f = 2 * size(1)[0] * size(1)[1] * size(1)[2] * size(2)[2];
  } else if (name == "aten::convolution" && is_tensor(1)) {
    // Output positions x (input channels per group x kernel) x output channels, from the output
    // shape the forward gives: estimated from input and weight with the stride.
    const auto in = size(0), w = size(1);
    const auto stride = inputs.size() > 3 && inputs[3].isIntList() ? inputs[3].toIntList().vec() : std::vector<int64_t>{};
    int64_t positions = in[0];
    for (size_t d = 2; d < in.size(); ++d) {
      const int64_t s = d - 2 < stride.size() ? stride[d - 2] : 1;
      positions *= std::max<int64_t>(1, in[d] / std::max<int64_t>(1, s));
    }
    f = 2 * positions * numel(w);
  } else if (name == "aten::convolution_backward" && is_tensor(2)) {
    // Gradients of the input and of the weight: twice the forward.
    const auto grad_out = size(0), w = size(2);
    f = 4 * numel(grad_out) / grad_out[1] * numel(w);
  } else if (name.rfind("aten::_scaled_dot_product_", 0) == 0 && name.find("_math") == std::string::npos &&
             is_tensor(2)) {
    // A fused attention kernel (flash, memory-efficient, cuDNN; the composite aten::scaled_dot_product_attention
    // around it and the math form's own matrix products are counted where they run). q [B, H, L, E],
    // k [B, H, S, E]: QK^T and PV, 4 B H L S E; the backward pass (grad_out, q, k, ...) twice that.
    const bool backward = name.find("backward") != std::string::npos;
    if (!backward || is_tensor(3)) {
      const auto q = size(backward ? 1 : 0), k = size(backward ? 2 : 1);
      const int64_t forward = 4 * numel(q) * k[k.size() - 2];
      f = backward ? 2 * forward : forward;
    }
  }
  if (f > 0) counted_flops.fetch_add(f, std::memory_order_relaxed);
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  count_op(fn);
  return nullptr;
}

// The operator profiler's state: per thread, the time of the operators called by each open operator
// (a stack, as operators nest); per name, the calls and self time.
thread_local std::vector<int64_t> child_ns;
thread_local int optimizer_depth = 0;  // open "Optimizer.step" scopes
std::mutex profile_mutex;
std::map<std::string, OpTime> profile_times;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct OpStart : at::ObserverContext {
  int64_t start_ns = 0;
  size_t depth = 0;
  bool optimizer_scope = false;
  std::string key;  // the name, "Optimizer.step/"-prefixed inside an optimizer step
};

std::unique_ptr<at::ObserverContext> on_op_start(const at::RecordFunction& fn) {
  auto ctx = std::make_unique<OpStart>();
  const std::string name = fn.name();
  ctx->key = optimizer_depth > 0 ? "Optimizer.step/" + name : name;
  ctx->optimizer_scope = name.rfind("Optimizer.step", 0) == 0;
  optimizer_depth += ctx->optimizer_scope ? 1 : 0;
  child_ns.push_back(0);
  ctx->depth = child_ns.size();
  ctx->start_ns = now_ns();
  return ctx;
}

void on_op_end(const at::RecordFunction&, at::ObserverContext* ctx_base) {
  const int64_t end = now_ns();
  auto* ctx = static_cast<OpStart*>(ctx_base);
  if (ctx != nullptr && ctx->optimizer_scope) --optimizer_depth;
  // An operator ends on the thread it started on; anything else (a stack this thread did not build)
  // is left uncounted rather than misattributed.
  if (ctx == nullptr || child_ns.size() != ctx->depth) return;
  const int64_t total = end - ctx->start_ns;
  const int64_t self = total - child_ns.back();
  child_ns.pop_back();
  if (!child_ns.empty()) child_ns.back() += total;
  const std::lock_guard<std::mutex> lock(profile_mutex);
  OpTime& t = profile_times[ctx->key];
  t.calls += 1;
  t.self_s += static_cast<double>(std::max<int64_t>(0, self)) * 1e-9;
}

}  // namespace

OpProfiler::OpProfiler() {
  {
    const std::lock_guard<std::mutex> lock(profile_mutex);
    profile_times.clear();
  }
  handle_ = at::addGlobalCallback(at::RecordFunctionCallback(on_op_start, on_op_end));
}

OpProfiler::~OpProfiler() { at::removeCallback(handle_); }

std::vector<OpTime> OpProfiler::times() const {
  std::vector<OpTime> out;
  {
    const std::lock_guard<std::mutex> lock(profile_mutex);
    for (const auto& [name, t] : profile_times) {
      out.push_back(t);
      out.back().name = name;
    }
  }
  std::sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.self_s > b.self_s; });
  return out;
}

FlopCounter::FlopCounter() {
  counted_flops = 0;
  handle_ = at::addGlobalCallback(at::RecordFunctionCallback(on_start).needsInputs(true));
}

FlopCounter::~FlopCounter() { at::removeCallback(handle_); }

double FlopCounter::flops() const { return static_cast<double>(counted_flops.load()); }

Measured measure(const std::function<void()>& step, const c10::Device& device, int64_t warmup, int64_t steps,
                 int64_t profile_steps) {
  for (int64_t i = 0; i < warmup; ++i) step();
  synchronize(device);
  Measured m;
  {
    const FlopCounter counter;
    step();
    synchronize(device);
    m.flops = counter.flops();
  }
  for (int64_t i = 0; i < steps; ++i) {
    const auto t = std::chrono::steady_clock::now();
    step();
    synchronize(device);
    m.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  }
  if (profile_steps > 0) {
    const OpProfiler profiler;
    const auto t = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < profile_steps; ++i) step();
    synchronize(device);
    const double n = static_cast<double>(profile_steps);
    m.profiled_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count() / n;
    m.profile = profiler.times();
    for (OpTime& op : m.profile) {
      op.calls /= profile_steps;
      op.self_s /= n;
    }
  }
  return m;
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

double gemm_peak_gflops(const c10::Device& device, c10::ScalarType dtype, int64_t n, int repeats) {
  at::NoGradGuard no_grad;
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  at::Tensor c = at::empty({n, n}, options);
  at::mm_out(c, a, b);
  synchronize(device);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    synchronize(device);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / s / 1e9);
  }
  return best;
}

std::vector<std::string> cpu_matrix_features() {
  std::vector<std::string> out;
  for (const auto& [name, value] : at::cpu::get_cpu_capabilities())
    if (value.isBool() && value.toBool() &&
        (name.rfind("avx512", 0) == 0 || name.rfind("amx", 0) == 0 || name == "avx2" || name == "fma"))
      out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mmcl::perf

// mmcl bench: how fast the model of a run config trains and infers on this machine. Times
// forward + backward + AdamW steps on a synthetic batch of data.batch_size after warm-up steps,
// separately the forward pass alone (inference, eval mode, no gradients), and, when the config names
// training data, the data pipeline alone. Prints samples/s, step time percentiles, the GFLOP/s the
// matrix products reached (FLOPs counted from the operators one step runs) and the peak RSS; --json
// prints one JSON object instead. Writes nothing.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/record_function.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/optim/adamw.h>

#include "mmcl/cli/run_command.h"
#include "mmcl/core/error.h"
#include "mmcl/core/runtime.h"
#include "mmcl/data/dataset.h"
#include "mmcl/data/loader.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"
#include "mmcl/text/factory.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/precision.h"
#include "mmcl/train/trainer.h"

namespace mmcl::cli {
namespace {

using Clock = std::chrono::steady_clock;

// FLOPs of the matrix products and convolutions the process runs while the counting callback is
// registered (a multiply-add is 2 FLOPs). Everything else (norms, activations, softmax) is left out: it is a small share of a
// transformer's work and none of the GEMM rate this reports.
std::atomic<int64_t> flops{0};

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
  if (f > 0) flops.fetch_add(f, std::memory_order_relaxed);
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  count_op(fn);
  return nullptr;
}

// A random batch of what the model reads, sized by its input spec.
data::Batch synthetic_batch(const models::ContrastiveModel& model, const config::ModelConfig& mc, int64_t n,
                            const c10::Device& device) {
  const data::InputSpec spec = model.input_spec();
  data::Batch b;
  for (int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  const auto floats = at::TensorOptions().device(device);
  const auto ids = at::TensorOptions().dtype(at::kLong).device(device);
  if (mc.name == "cvrl") {
    b.video = at::randn({n, 2, spec.video_frames, 3, spec.video_size, spec.video_size}, floats);
    return b;
  }
  if (mc.name == "vatt") {
    b.video = at::randn({n, spec.video_frames, 3, spec.video_size, spec.video_size}, floats);
    b.audio = at::randn({n, spec.audio_samples}, floats) * 0.1;
    b.text = at::randint(1, spec.vocab_size, {n, 1, spec.context_length}, ids);
    return b;
  }
  b.image = at::randn({n, 3, spec.image_size, spec.image_size}, floats);
  // Captions of random length; CLIP pools at the end token (the largest id).
  b.text = at::zeros({n, spec.context_length}, ids);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t words = 2 + i % std::max<int64_t>(1, spec.context_length - 3);
    b.text[i].slice(0, 0, words).copy_(at::randint(1, spec.vocab_size - 1, {words}, ids));
    b.text[i][words] = spec.vocab_size - 1;
  }
  return b;
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

class Bench : public RunCommand {
 public:
  std::string name() const override { return "bench"; }
  std::string summary() const override {
    return "Time training steps, inference and the data pipeline of a config (samples/s, step percentiles, GFLOP/s, peak RSS)";
  }
  void add_options(CLI::App& app) override {
    RunCommand::add_options(app);
    app.add_option("--steps", steps_, "Timed steps (default 20)")->check(CLI::PositiveNumber);
    app.add_option("--warmup", warmup_, "Untimed steps first (default 3)")->check(CLI::NonNegativeNumber);
    app.add_option("--data-batches", data_batches_, "Batches of the data pipeline to time when the config names data (default 20; 0: skip)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--json", json_, "Print one JSON object");
  }

 protected:
  int execute(const config::RunConfig& loaded) override {
    config::RunConfig c = loaded;
    const Runtime runtime = setup_runtime(c.runtime);
    const c10::Device device = runtime.device;
    const int threads = runtime.threads;
    seed_everything(static_cast<uint64_t>(c.run.seed));
    const train::Precision precision = train::resolve_precision(c.runtime.precision, device);
    // A learned vocabulary sizes the text tower as training would.
    const text::TrainingTokenizer tokenizer =
        c.data.type == "synthetic" || data_batches_ == 0 ? text::TrainingTokenizer{} : text::training_tokenizer(c);

    models::ModelPtr model = models::make_model(c.model);
    train::place_module(*model, device, precision.param_dtype());
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    const losses::LossPtr loss = losses::make_loss(c.loss);
    auto optimizer = train::make_optimizer(*model, c.optim);
    train::GradScaler scaler(precision.scale_loss);
    const train::StepPrecision sp{precision, device, &scaler};
    const int64_t batch = c.data.batch_size;
    const data::Batch input = synthetic_batch(*model, c.model, batch, device);

    at::Tensor last_loss;
    auto train_step = [&] {
      optimizer->zero_grad();
      last_loss = train::forward_backward(*model, *loss, {input}, {}, sp).loss;
      train::step_optimizer(*optimizer, *model, &scaler, c.optim.grad_clip);
      model->after_step();
    };
    // Training, then the forward pass alone (inference: eval mode, no gradients).
    model->train();
    const Measured trained = measure(train_step, device);
    model->eval();
    Measured inferred;
    {
      torch::NoGradGuard no_grad;
      inferred = measure(
          [&] {
            train::AutocastGuard autocast(precision, device);
            (void)model->forward(train::inputs_for(input, precision));
          },
          device);
    }

    // The data pipeline alone, when the config names training data.
    nlohmann::json data_json = nullptr;
    if (c.data.type != "synthetic" && data_batches_ > 0) {
      data::InputSpec spec = model->input_spec();
      spec.tokenizer = tokenizer.tokenizer;
      if (c.model.name == "cvrl") spec.video_views = 2;
      const auto dataset = data::make_dataset(c.data, spec, static_cast<uint64_t>(c.run.seed));
      data::LoaderOptions lo = train::loader_options(c, Runtime{device, threads, nullptr});
      data::Loader loader(dataset, lo);
      loader.start_epoch(0);
      int64_t batches = 0, samples = 0;
      const auto t = Clock::now();
      while (batches < data_batches_) {
        auto b = loader.next();
        if (!b) {
          loader.start_epoch(batches + 1);
          continue;
        }
        ++batches;
        samples += b->size();
      }
      const double s = std::chrono::duration<double>(Clock::now() - t).count();
      data_json = {{"batches", batches}, {"samples_per_s", static_cast<double>(samples) / s},
                   {"workers", c.data.workers}, {"type", c.data.type}};
    }

    auto summary = [&](const std::vector<double>& times, double step_flops_) {
      const double p50 = percentile(times, 0.5);
      return nlohmann::json{{"samples_per_s", static_cast<double>(batch) / p50},
                            {"step_s", {{"p50", p50}, {"p90", percentile(times, 0.9)}, {"p99", percentile(times, 0.99)},
                                        {"min", *std::min_element(times.begin(), times.end())},
                                        {"max", *std::max_element(times.begin(), times.end())}}},
                            {"gflop_per_step", step_flops_ / 1e9},
                            {"gflop_per_s", step_flops_ / 1e9 / p50}};
    };
    nlohmann::json out = {{"model", c.model.name},
                          {"preset", c.model.preset},
                          {"parameters", params},
                          {"batch", batch},
                          {"precision", precision.name},
                          {"device", device.str()},
                          {"threads", threads},
                          {"libtorch", torch_version()},
                          {"steps", steps_},
                          {"warmup", warmup_},
                          {"train", summary(trained.seconds, trained.flops)},
                          {"inference", summary(inferred.seconds, inferred.flops)},
                          {"data", data_json},
                          {"data_keeps_up", data_json.is_null() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(data_json["samples_per_s"].get<double>() >=
                                                                                 static_cast<double>(batch) / percentile(trained.seconds, 0.5))},
                          {"loss", last_loss.defined() ? last_loss.item<double>() : 0.0},
                          {"peak_rss_mb", peak_rss_mb()},
                          {"gpu_mem_peak_mb", gpu_peak_memory_mb(device)}};
    if (json_) {
      std::cout << out.dump() << std::endl;
      return kExitOk;
    }
    char buf[1024];
    const auto& tr = out["train"];
    const auto& in = out["inference"];
    std::snprintf(buf, sizeof buf,
                  "%s%s%s, %.2f M parameters, batch %lld, %s on %s (%d threads), LibTorch %s\n"
                  "train      %8.1f samples/s  step p50 %.4f s  p90 %.4f s  p99 %.4f s  %.1f GFLOP/step  %.1f GFLOP/s\n"
                  "inference  %8.1f samples/s  step p50 %.4f s  p90 %.4f s  p99 %.4f s  %.1f GFLOP/step  %.1f GFLOP/s\n",
                  c.model.name.c_str(), c.model.preset.empty() ? "" : " ", c.model.preset.c_str(),
                  static_cast<double>(params) / 1e6, static_cast<long long>(batch), precision.name.c_str(),
                  device.str().c_str(), threads, torch_version().c_str(), tr["samples_per_s"].get<double>(),
                  tr["step_s"]["p50"].get<double>(), tr["step_s"]["p90"].get<double>(), tr["step_s"]["p99"].get<double>(),
                  tr["gflop_per_step"].get<double>(), tr["gflop_per_s"].get<double>(), in["samples_per_s"].get<double>(),
                  in["step_s"]["p50"].get<double>(), in["step_s"]["p90"].get<double>(), in["step_s"]["p99"].get<double>(),
                  in["gflop_per_step"].get<double>(), in["gflop_per_s"].get<double>());
    std::cout << buf;
    if (!data_json.is_null()) {
      const double ratio = data_json["samples_per_s"].get<double>() / tr["samples_per_s"].get<double>();
      std::printf("data       %8.1f samples/s  (%s, %lld workers, %lld batches): %.2fx the training rate, %s\n",
                  data_json["samples_per_s"].get<double>(), c.data.type.c_str(), static_cast<long long>(c.data.workers),
                  static_cast<long long>(data_json["batches"].get<int64_t>()), ratio,
                  ratio >= 1 ? "the loader keeps up (measured alone: with training it shares the cores)"
                             : "the loader is the bottleneck (more data.workers, or prepare the data smaller)");
    }
    std::printf("peak RSS   %.0f MiB\n", out["peak_rss_mb"].get<double>());
    return kExitOk;
  }

 private:
  struct Measured {
    double flops = 0;              // of one step
    std::vector<double> seconds;   // of each timed step
  };
  // warmup_ untimed runs of `step`, one run with its FLOPs counted, then steps_ timed runs.
  template <class Step>
  Measured measure(const Step& step, const c10::Device& device) const {
    for (int64_t i = 0; i < warmup_; ++i) step();
    synchronize(device);
    Measured m;
    flops = 0;
    const at::CallbackHandle handle = at::addGlobalCallback(at::RecordFunctionCallback(on_start).needsInputs(true));
    step();
    synchronize(device);
    at::removeCallback(handle);
    m.flops = static_cast<double>(flops.load());
    for (int64_t i = 0; i < steps_; ++i) {
      const auto t = Clock::now();
      step();
      synchronize(device);
      m.seconds.push_back(std::chrono::duration<double>(Clock::now() - t).count());
    }
    return m;
  }

  int64_t steps_ = 20, warmup_ = 3, data_batches_ = 20;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench() { return std::make_unique<Bench>(); }

}  // namespace mmcl::cli

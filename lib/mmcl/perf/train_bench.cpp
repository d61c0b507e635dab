#include "mmcl/perf/train_bench.h"

#include <chrono>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "mmcl/data/loader.h"
#include "mmcl/losses/loss.h"
#include "mmcl/train/grad_scaler.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"

namespace mmcl::perf {

data::Batch synthetic_batch(const run::Run& run, int64_t n) {
  const data::InputSpec& spec = run.spec;
  const Capabilities& can = *run.can;
  data::Batch b;
  for (int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  const auto floats = at::TensorOptions().device(run.device);
  const auto ids = at::TensorOptions().dtype(at::kLong).device(run.device);
  if (can.has(Modality::video)) {
    const int64_t t = spec.video_frames, s = spec.video_size;
    b.video = can.views > 1 ? at::randn({n, can.views, t, 3, s, s}, floats) : at::randn({n, t, 3, s, s}, floats);
    if (can.has(Modality::audio)) b.audio = at::randn({n, spec.audio_samples}, floats) * 0.1;
    // Clips carry a list of captions each (here one).
    if (can.has(Modality::text)) b.text = at::randint(1, spec.vocab_size, {n, 1, spec.context_length}, ids);
    return b;
  }
  b.image = can.views > 1 ? at::randn({n, can.views, 3, spec.image_size, spec.image_size}, floats)
                           : at::randn({n, 3, spec.image_size, spec.image_size}, floats);
  if (!can.has(Modality::text)) return b;
  // Captions of random length; CLIP pools at the end token (the largest id).
  b.text = at::zeros({n, spec.context_length}, ids);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t words = 2 + i % std::max<int64_t>(1, spec.context_length - 3);
    b.text[i].slice(0, 0, words).copy_(at::randint(1, spec.vocab_size - 1, {words}, ids));
    b.text[i][words] = spec.vocab_size - 1;
  }
  return b;
}

TrainBench bench_training(const run::Run& run, const TrainBenchOptions& o, const Runtime& runtime) {
  const config::RunConfig& c = run.config;
  models::ContrastiveModel& model = *run.model;
  const c10::Device& device = run.device;
  TrainBench out;
  for (const auto& p : model.parameters()) out.parameters += p.numel();
  const losses::LossPtr loss = losses::make_loss(c.loss);
  auto optimizer = train::make_optimizer(model, c.optim);
  train::GradScaler scaler(run.precision.scale_loss);
  const train::StepPrecision sp{run.precision, device, &scaler};
  out.batch = c.data.batch_size;
  const data::Batch input = synthetic_batch(run, out.batch);

  at::Tensor last_loss;
  // Training, then the forward pass alone (inference: eval mode, no gradients).
  model.train();
  out.train = measure(
      [&] {
        optimizer->zero_grad();
        last_loss = train::forward_backward(model, *loss, {input}, {}, sp).loss;
        train::step_optimizer(*optimizer, model, &scaler, c.optim.grad_clip);
        model.after_step();
      },
      device, o.warmup, o.steps, o.profile_steps);
  model.eval();
  {
    torch::NoGradGuard no_grad;
    out.inference = measure(
        [&] {
          AutocastGuard autocast(run.precision, device);
          (void)model.forward(train::inputs_for(input, run.precision));
        },
        device, o.warmup, o.steps, o.profile_steps);
  }
  out.last_loss = last_loss.defined() ? last_loss.item<double>() : 0.0;

  // The data pipeline alone, when the run has training data.
  if (run.dataset && o.data_batches > 0) {
    data::Loader loader(run.dataset, train::loader_options(c.data, c.run.seed, runtime));
    loader.start_epoch(0);
    int64_t batches = 0, samples = 0;
    const auto t = std::chrono::steady_clock::now();
    while (batches < o.data_batches) {
      auto b = loader.next();
      if (!b) {
        loader.start_epoch(batches + 1);
        continue;
      }
      ++batches;
      samples += b->size();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    out.data = DataRate{batches, static_cast<double>(samples) / s};
  }
  return out;
}

}  // namespace mmcl::perf

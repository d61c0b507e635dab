#include "mmcl/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <optional>

#include <ATen/ATen.h>

#include "mmcl/config/load.h"
#include "mmcl/core/log.h"
#include "mmcl/core/signals.h"
#include "mmcl/data/loader.h"
#include "mmcl/dist/ddp.h"
#include "mmcl/dist/group.h"
#include "mmcl/dist/slurm.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/train/checkpoint.h"
#include "mmcl/train/metrics.h"
#include "mmcl/train/optim.h"

namespace mmcl::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

models::Embeddings concat_with(const std::vector<models::Embeddings>& cached, size_t live_index,
                               const models::Embeddings& live) {
  models::Embeddings all;
  for (const auto& [modality, tensor] : live.by_modality) {
    std::vector<at::Tensor> parts;
    for (size_t i = 0; i < cached.size(); ++i) parts.push_back(i == live_index ? tensor : cached[i].at(modality));
    all.by_modality[modality] = at::cat(parts, 0);
  }
  // The logit scale's gradient is taken from the first pass only, so it is counted once.
  all.logit_scale = live_index == 0 ? live.logit_scale : live.logit_scale.detach();
  return all;
}

}  // namespace

data::Batch inputs_for(const data::Batch& batch, const Precision& precision) {
  data::Batch b = batch;
  b.image = to_param_dtype(b.image, precision);
  b.video = to_param_dtype(b.video, precision);
  b.audio = to_param_dtype(b.audio, precision);
  return b;
}

StepStats forward_backward(models::ContrastiveModel& model, const losses::Loss& loss,
                           const std::vector<data::Batch>& micro_batches, const GlobalBatch& global,
                           const StepPrecision& sp) {
  MMCL_CHECK(!micro_batches.empty(), "no batch to train on");
  auto forward = [&](const data::Batch& b) { return model.forward(inputs_for(b, sp.precision)); };
  auto backward = [&](const at::Tensor& total) {
    (sp.scaler ? sp.scaler->scale_loss(total) : total).backward();
  };
  auto loss_of = [&](const models::Embeddings& local) {
    if (!global.group || global.group->world_size() == 1) return loss(local);
    dist::Group& group = *global.group;
    // Without gather_with_grad every rank computes the same whole-batch loss, but each rank's rows get
    // their gradient only on that rank: scaling it by the world size makes the averaged gradient exact.
    const double scale = !global.gather_with_grad && !global.local_loss ? static_cast<double>(group.world_size()) : 1.0;
    models::Embeddings all;
    int64_t rows = 0;
    for (const auto& [modality, tensor] : local.by_modality) {
      all.by_modality[modality] = dist::gather_rows(tensor, group, global.gather_with_grad, scale);
      rows = tensor.size(0);
    }
    all.logit_scale = local.logit_scale;
    if (!global.local_loss) return loss(all);
    return loss.local(all, group.rank() * rows, (group.rank() + 1) * rows);
  };
  StepStats stats;
  if (micro_batches.size() == 1) {
    models::Embeddings e;
    losses::LossOutput out;
    {
      AutocastGuard autocast(sp.precision, sp.device);
      e = forward(micro_batches.front());
      out = loss_of(e);
    }
    backward(out.total);
    stats.loss = out.total.detach();
    stats.logit_scale = e.logit_scale.detach();
    return stats;
  }
  std::vector<models::Embeddings> cached;
  {
    torch::NoGradGuard no_grad;
    AutocastGuard autocast(sp.precision, sp.device);
    for (const data::Batch& b : micro_batches) cached.push_back(forward(b));
  }
  for (size_t j = 0; j < micro_batches.size(); ++j) {
    models::Embeddings all;
    losses::LossOutput out;
    {
      AutocastGuard autocast(sp.precision, sp.device);
      all = concat_with(cached, j, forward(micro_batches[j]));
      out = loss_of(all);
    }
    backward(out.total);
    if (j == 0) {
      stats.loss = out.total.detach();
      stats.logit_scale = all.logit_scale.detach();
    }
  }
  return stats;
}

TrainResult pretrain(const config::RunConfig& cfg, std::shared_ptr<const data::Dataset> dataset,
                     const std::string& tokenizer_state, const RunDir& dir, const Runtime& runtime) {
  seed_everything(static_cast<uint64_t>(cfg.run.seed));
  models::ModelPtr model = models::make_model(cfg.model);
  if (!cfg.model.pretrained.empty()) models::load_pretrained(*model, cfg.model.pretrained);
  const Precision precision = resolve_precision(cfg.runtime.precision, runtime.device);
  place_module(*model, runtime.device, precision.param_dtype());
  GradScaler scaler(precision.scale_loss);
  losses::LossPtr loss = losses::make_loss(cfg.loss);
  auto optimizer = make_optimizer(*model, cfg.optim);
  data::Loader loader(dataset, loader_options(cfg, runtime));
  const GlobalBatch global{runtime.group.get(), cfg.loss.local_loss, cfg.loss.gather_with_grad};

  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  TrainingJob job;
  job.module = model.get();
  job.optimizer = optimizer.get();
  job.loader = &loader;
  const StepPrecision step_precision{precision, runtime.device, &scaler};
  job.step = [&](const std::vector<data::Batch>& micro) {
    return forward_backward(*model, *loss, micro, global, step_precision);
  };
  job.scaler = &scaler;
  job.after_step = [&] { model->after_step(); };
  job.description = str_cat("model ", cfg.model.name, " (", static_cast<double>(params) / 1e6, " M parameters), loss ",
                            cfg.loss.name, ", ", dataset->size(), " samples, precision ", precision.name);
  return run_training(cfg, job, {config::dump_config(cfg), tokenizer_state}, dir, runtime);
}

data::LoaderOptions loader_options(const config::RunConfig& cfg, const Runtime& runtime) {
  data::LoaderOptions lo;
  if (runtime.group) {
    lo.rank = runtime.group->rank();
    lo.world = runtime.group->world_size();
  }
  lo.batch_size = cfg.data.batch_size;
  lo.workers = cfg.data.workers;
  lo.prefetch = cfg.data.prefetch;
  lo.seed = static_cast<uint64_t>(cfg.run.seed);
  lo.pin_memory = runtime.device.is_cuda();  // then each batch's copy to the GPU does not block
  return lo;
}

TrainResult run_training(const config::RunConfig& cfg, const TrainingJob& job, const CheckpointMeta& meta,
                         const RunDir& dir, const Runtime& runtime) {
  const auto& tc = cfg.train;
  data::Loader& loader = *job.loader;
  const std::shared_ptr<dist::Group> group = runtime.group ? runtime.group : dist::single_process();
  const bool main = group->is_main();
  const int64_t world = group->world_size();
  const int64_t accum = cfg.optim.accum_steps;
  const int64_t step_samples = accum * cfg.data.batch_size * world;  // the global batch of one step
  const int64_t steps_per_epoch = loader.batches_per_epoch() / accum;
  MMCL_CHECK(steps_per_epoch > 0, "one step needs ", step_samples, " samples (data.batch_size x optim.accum_steps",
             world > 1 ? " x processes" : "", ") but an epoch has ", loader.batches_per_epoch(), " batches");
  const int64_t total = tc.steps > 0 ? tc.steps : tc.epochs * steps_per_epoch;
  spdlog::info("{}, {} steps/epoch, {} steps, batch {} x {} accum{}", job.description, steps_per_epoch, total,
               cfg.data.batch_size, accum, world > 1 ? str_cat(" x ", world, " processes") : "");

  CheckpointDir checkpoints(dir.checkpoints());
  TrainState state;
  if (dir.resuming) {
    if (auto latest = checkpoints.latest()) {
      const CheckpointInfo info = load_checkpoint(*latest, *job.module, job.optimizer);
      state = info.state;
      if (job.scaler && job.scaler->enabled() && state.loss_scale > 0)
        job.scaler->restore(state.loss_scale, state.loss_scale_good_steps);
      const auto before = config::load_resolved_config(info.meta.config_yaml, latest->string());
      for (const std::string& change : config::config_differences(before, cfg))
        spdlog::warn("config differs from the checkpoint's: {}", change);
      spdlog::info("resumed from {} at step {}", latest->string(), state.step);
    } else {
      spdlog::info("--resume: no checkpoint in {}, starting from step 0", dir.checkpoints().string());
    }
  }
  std::unique_ptr<dist::GradientReducer> reducer;
  if (world > 1) {
    // Every rank starts from rank 0's parameters, fresh or resumed.
    dist::broadcast_state(*group, *job.module);
    reducer = std::make_unique<dist::GradientReducer>(group, job.module->parameters(), cfg.dist.bucket_mb);
  }
  std::optional<MetricsLog> metrics;
  if (main) metrics.emplace(dir.metrics_file(), dir.resuming ? state.step : -1);

  TrainResult result;
  result.total_steps = total;
  result.step = state.step;
  install_stop_handlers();
  Progress progress(state.step, total, main);
  const int64_t first_step = state.step;
  int64_t loaded_epoch = -1;
  double data_wait = 0;
  int64_t samples_since_log = 0;
  double recent_rate = 0;  // samples/s, smoothed over recent steps
  Clock::time_point log_start = Clock::now();
  int64_t last_saved = state.step;
  int stopped_by = 0;  // the stop signal, agreed by all ranks
  // Reading a value computed on a GPU waits for the device, so the losses of the steps since the last
  // check are kept as tensors and read back in one go at logging and checkpoint steps (on the CPU, where
  // a read costs nothing, the progress line also shows every step's loss).
  const bool host = runtime.device.is_cpu();
  std::vector<at::Tensor> pending;  // the loss of each step since the last check (the ranks' mean)
  int64_t pending_first = 0;        // the step index of pending[0]
  double loss_value = std::nan("");  // the newest loss read back
  auto check_losses = [&] {
    if (pending.empty()) return;
    const at::Tensor values = at::stack(pending).to(at::kCPU, at::kDouble).contiguous();
    const double* v = values.data_ptr<double>();
    for (size_t i = 0; i < pending.size(); ++i)
      if (!std::isfinite(v[i]))
        throw Error(str_cat("the loss is ", v[i], " at step ", pending_first + static_cast<int64_t>(i) + 1,
                            "; the last checkpoint is intact (try a lower optim.lr or optim.grad_clip)"));
    loss_value = v[pending.size() - 1];
    pending.clear();
  };

  auto save = [&] {
    // Never a checkpoint of weights a non-finite loss has reached.
    check_losses();
    last_saved = state.step;
    if (!main) return;
    state.epoch = state.step / steps_per_epoch;
    if (job.scaler && job.scaler->enabled()) {
      state.loss_scale = job.scaler->scale();
      state.loss_scale_good_steps = job.scaler->good_steps();
    }
    const auto file = checkpoints.save(*job.module, job.optimizer, state, meta, tc.keep_checkpoints);
    progress.clear();
    spdlog::info("checkpoint {}", file.string());
    progress.redraw();
  };

  job.module->train();
  while (state.step < total) {
    if (world == 1) stopped_by = stop_signal();
    if (stopped_by != 0) break;
    if (tc.stop_after > 0 && state.step - first_step >= tc.stop_after) break;

    // Which batches this step takes follows from the step alone, so resume lands on the same data.
    const int64_t epoch = state.step / steps_per_epoch;
    if (epoch != loaded_epoch) {
      loader.start_epoch(epoch, (state.step % steps_per_epoch) * accum);
      loaded_epoch = epoch;
    }
    const Clock::time_point step_start = Clock::now();
    std::vector<data::Batch> micro;
    for (int64_t i = 0; i < accum; ++i) {
      std::optional<data::Batch> b = loader.next();
      MMCL_CHECK(b.has_value(), "internal: the loader ran out of batches within an epoch");
      micro.push_back(b->to(runtime.device, /*non_blocking=*/!host));
    }
    data_wait += seconds_since(step_start);

    const double lr = learning_rate(cfg.optim, state.step, total);
    set_learning_rate(*job.optimizer, lr);
    job.optimizer->zero_grad();
    const StepStats stats = job.step(micro);
    if (pending.empty()) pending_first = state.step;
    if (world > 1) {
      reducer->reduce();
      // One small all-reduce per step: the mean loss, and whether any rank was asked to stop (by
      // which signal), so every rank stops after the same step.
      const int sig = stop_signal();
      const at::Tensor flags = at::tensor({sig == SIGINT ? 1.0 : 0.0, sig == SIGTERM ? 1.0 : 0.0, sig == SIGUSR1 ? 1.0 : 0.0},
                                          at::kDouble);
      at::Tensor agree = at::cat({stats.loss.to(at::kDouble).reshape({1}), flags.to(runtime.device)});
      group->all_reduce_sum(agree);
      agree = agree.cpu();
      const double* a = agree.data_ptr<double>();
      pending.push_back(at::scalar_tensor(a[0] / static_cast<double>(world), at::kDouble));
      stopped_by = a[3] > 0 ? SIGUSR1 : a[2] > 0 ? SIGTERM : a[1] > 0 ? SIGINT : 0;
    } else {
      pending.push_back(stats.loss);
    }
    // amp_fp16: gradients back to their true scale; a step with an inf/NaN gradient is skipped (every
    // rank sees the same reduced gradients, so every rank skips it).
    const at::Tensor grad_norm =
        step_optimizer(*job.optimizer, *job.module, job.scaler, cfg.optim.grad_clip);
    if (job.after_step) job.after_step();
    ++state.step;
    samples_since_log += step_samples;

    const bool last = state.step == total;
    const bool epoch_end = state.step % steps_per_epoch == 0;
    const bool log_now =
        state.step % tc.log_every == 0 || last || state.step == first_step + 1 || (epoch_end && job.at_epoch_end);
    if (log_now) check_losses();
    if (host) loss_value = pending.empty() ? loss_value : pending.back().item<double>();
    result.last_loss = loss_value;

    // The console line follows every step; the log and metrics every train.log_every steps.
    const double step_rate = static_cast<double>(step_samples) / seconds_since(step_start);
    recent_rate = recent_rate > 0 ? 0.9 * recent_rate + 0.1 * step_rate : step_rate;
    progress.update(state.step, loss_value, recent_rate);

    if (log_now) {
      const double elapsed = seconds_since(log_start);
      const double samples_per_s = elapsed > 0 ? static_cast<double>(samples_since_log) / elapsed : 0.0;
      nlohmann::json record = {{"step", state.step},
                               {"epoch", static_cast<double>(state.step) / static_cast<double>(steps_per_epoch)},
                               {"lr", lr},
                               {"loss", loss_value},
                               {"samples_per_s", samples_per_s},
                               {"data_wait_s", data_wait},
                               {"data/skipped", loader.skipped()}};
      const double logit_scale = stats.logit_scale.defined() ? stats.logit_scale.item<double>() : 0.0;
      if (logit_scale > 0) record["logit_scale"] = logit_scale;
      if (grad_norm.defined()) record["grad_norm"] = grad_norm.item<double>();
      if (runtime.device.is_cuda()) record["gpu_mem_peak_mb"] = gpu_peak_memory_mb(runtime.device);
      if (epoch_end && job.at_epoch_end) {
        progress.clear();
        job.at_epoch_end(state.step / steps_per_epoch, record);
        job.module->train();
      }
      if (metrics) metrics->write(record);
      progress.clear();
      spdlog::info("step {}/{} | epoch {:.2f} | loss {:.4f} | lr {:.3g}{} | {:.1f} samples/s | data wait {:.2f} s | ETA {}",
                   state.step, total, record["epoch"].get<double>(), loss_value, lr,
                   logit_scale > 0 ? str_cat(" | logit scale ", std::round(logit_scale * 100) / 100) : "",
                   samples_per_s, data_wait, progress.eta(state.step));
      progress.redraw();
      data_wait = 0;
      samples_since_log = 0;
      log_start = Clock::now();
    }
    if (tc.checkpoint_every > 0 && state.step % tc.checkpoint_every == 0) save();
  }
  if (state.step != last_saved || (main && !checkpoints.latest())) save();
  check_losses();
  result.last_loss = loss_value;
  progress.finish();
  // Rank 0 serves the rendezvous store: every rank leaves together, after the last checkpoint.
  group->barrier();
  result.step = state.step;
  result.finished = state.step >= total;
  result.stop_signal = stopped_by;
  if (stopped_by != 0) {
    spdlog::warn("stopped by signal {} at step {}/{}; continue with --resume", stopped_by, state.step, total);
    if (main && stopped_by == SIGUSR1 && tc.requeue && std::getenv("SLURM_JOB_ID")) dist::requeue_slurm_job();
  } else if (!result.finished) {
    spdlog::info("stopped after {} steps (train.stop_after) at step {}/{}; continue with --resume", tc.stop_after,
                 state.step, total);
  }
  return result;
}

}  // namespace mmcl::train

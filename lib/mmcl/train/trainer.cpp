#include "mmcl/train/trainer.h"

#include <chrono>
#include <cmath>

#include <torch/nn/utils/clip_grad.h>

#include "mmcl/config/load.h"
#include "mmcl/core/log.h"
#include "mmcl/core/signals.h"
#include "mmcl/data/loader.h"
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

StepStats forward_backward(models::ContrastiveModel& model, const losses::Loss& loss,
                           const std::vector<data::Batch>& micro_batches) {
  MMCL_CHECK(!micro_batches.empty(), "no batch to train on");
  StepStats stats;
  if (micro_batches.size() == 1) {
    const models::Embeddings e = model.forward(micro_batches.front());
    losses::LossOutput out = loss(e);
    out.total.backward();
    stats.loss = out.total.item<double>();
    stats.logit_scale = e.logit_scale.item<double>();
    return stats;
  }
  std::vector<models::Embeddings> cached;
  {
    torch::NoGradGuard no_grad;
    for (const data::Batch& b : micro_batches) cached.push_back(model.forward(b));
  }
  for (size_t j = 0; j < micro_batches.size(); ++j) {
    const models::Embeddings all = concat_with(cached, j, model.forward(micro_batches[j]));
    losses::LossOutput out = loss(all);
    out.total.backward();
    if (j == 0) {
      stats.loss = out.total.item<double>();
      stats.logit_scale = all.logit_scale.item<double>();
    }
  }
  return stats;
}

TrainResult pretrain(const config::RunConfig& cfg, std::shared_ptr<const data::Dataset> dataset,
                     const std::string& tokenizer_state, const RunDir& dir, const Runtime& runtime) {
  seed_everything(static_cast<uint64_t>(cfg.run.seed));
  models::ModelPtr model = models::make_model(cfg.model);
  if (!cfg.model.pretrained.empty()) models::load_pretrained(*model, cfg.model.pretrained);
  model->to(runtime.device);
  losses::LossPtr loss = losses::make_loss(cfg.loss);
  auto optimizer = make_optimizer(*model, cfg.optim);
  data::Loader loader(dataset, loader_options(cfg));

  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  TrainingJob job;
  job.module = model.get();
  job.optimizer = optimizer.get();
  job.loader = &loader;
  job.step = [&](const std::vector<data::Batch>& micro) { return forward_backward(*model, *loss, micro); };
  job.after_step = [&] { model->after_step(); };
  job.description = str_cat("model ", cfg.model.name, " (", static_cast<double>(params) / 1e6, " M parameters), loss ",
                            cfg.loss.name, ", ", dataset->size(), " samples");
  return run_training(cfg, job, {config::dump_config(cfg), tokenizer_state}, dir, runtime);
}

data::LoaderOptions loader_options(const config::RunConfig& cfg) {
  data::LoaderOptions lo;
  lo.batch_size = cfg.data.batch_size;
  lo.workers = cfg.data.workers;
  lo.prefetch = cfg.data.prefetch;
  lo.seed = static_cast<uint64_t>(cfg.run.seed);
  return lo;
}

TrainResult run_training(const config::RunConfig& cfg, const TrainingJob& job, const CheckpointMeta& meta,
                         const RunDir& dir, const Runtime& runtime) {
  const auto& tc = cfg.train;
  data::Loader& loader = *job.loader;
  const int64_t accum = cfg.optim.accum_steps;
  const int64_t steps_per_epoch = loader.batches_per_epoch() / accum;
  MMCL_CHECK(steps_per_epoch > 0, "one step needs ", accum * cfg.data.batch_size, " samples (data.batch_size x ",
             "optim.accum_steps) but an epoch has ", loader.batches_per_epoch(), " batches");
  const int64_t total = tc.steps > 0 ? tc.steps : tc.epochs * steps_per_epoch;
  spdlog::info("{}, {} steps/epoch, {} steps, batch {} x {} accum", job.description, steps_per_epoch, total,
               cfg.data.batch_size, accum);

  CheckpointDir checkpoints(dir.checkpoints());
  TrainState state;
  if (dir.resuming) {
    if (auto latest = checkpoints.latest()) {
      const CheckpointInfo info = load_checkpoint(*latest, *job.module, job.optimizer);
      state = info.state;
      const auto before = config::load_resolved_config(info.meta.config_yaml, latest->string());
      for (const std::string& change : config::config_differences(before, cfg))
        spdlog::warn("config differs from the checkpoint's: {}", change);
      spdlog::info("resumed from {} at step {}", latest->string(), state.step);
    } else {
      spdlog::info("--resume: no checkpoint in {}, starting from step 0", dir.checkpoints().string());
    }
  }
  MetricsLog metrics(dir.metrics_file(), dir.resuming ? state.step : -1);

  TrainResult result;
  result.total_steps = total;
  result.step = state.step;
  install_stop_handlers();
  Progress progress(state.step, total);
  const int64_t first_step = state.step;
  int64_t loaded_epoch = -1;
  double data_wait = 0;
  int64_t samples_since_log = 0;
  double recent_rate = 0;  // samples/s, smoothed over recent steps
  Clock::time_point log_start = Clock::now();
  int64_t last_saved = state.step;

  auto save = [&] {
    state.epoch = state.step / steps_per_epoch;
    const auto file = checkpoints.save(*job.module, job.optimizer, state, meta, tc.keep_checkpoints);
    last_saved = state.step;
    progress.clear();
    spdlog::info("checkpoint {}", file.string());
    progress.redraw();
  };

  job.module->train();
  while (state.step < total) {
    if (stop_requested()) break;
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
      micro.push_back(b->to(runtime.device));
    }
    data_wait += seconds_since(step_start);

    const double lr = learning_rate(cfg.optim, state.step, total);
    set_learning_rate(*job.optimizer, lr);
    job.optimizer->zero_grad();
    const StepStats stats = job.step(micro);
    const double loss_value = stats.loss;
    if (!std::isfinite(loss_value))
      throw Error(str_cat("the loss is ", loss_value, " at step ", state.step + 1,
                          "; the last checkpoint is intact (try a lower optim.lr or optim.grad_clip)"));
    if (cfg.optim.grad_clip > 0) torch::nn::utils::clip_grad_norm_(job.module->parameters(), cfg.optim.grad_clip);
    job.optimizer->step();
    if (job.after_step) job.after_step();
    ++state.step;
    result.last_loss = loss_value;
    samples_since_log += accum * cfg.data.batch_size;

    // The console line follows every step; the log and metrics every train.log_every steps.
    const double step_rate = static_cast<double>(accum * cfg.data.batch_size) / seconds_since(step_start);
    recent_rate = recent_rate > 0 ? 0.9 * recent_rate + 0.1 * step_rate : step_rate;
    progress.update(state.step, loss_value, recent_rate);

    const bool last = state.step == total;
    const bool epoch_end = state.step % steps_per_epoch == 0;
    if (state.step % tc.log_every == 0 || last || state.step == first_step + 1 || (epoch_end && job.at_epoch_end)) {
      const double elapsed = seconds_since(log_start);
      const double samples_per_s = elapsed > 0 ? static_cast<double>(samples_since_log) / elapsed : 0.0;
      nlohmann::json record = {{"step", state.step},
                               {"epoch", static_cast<double>(state.step) / static_cast<double>(steps_per_epoch)},
                               {"lr", lr},
                               {"loss", loss_value},
                               {"samples_per_s", samples_per_s},
                               {"data_wait_s", data_wait},
                               {"data/skipped", loader.skipped()}};
      if (stats.logit_scale > 0) record["logit_scale"] = stats.logit_scale;
      if (epoch_end && job.at_epoch_end) {
        progress.clear();
        job.at_epoch_end(state.step / steps_per_epoch, record);
        job.module->train();
      }
      metrics.write(record);
      progress.clear();
      spdlog::info("step {}/{} | epoch {:.2f} | loss {:.4f} | lr {:.3g}{} | {:.1f} samples/s | data wait {:.2f} s | ETA {}",
                   state.step, total, record["epoch"].get<double>(), loss_value, lr,
                   stats.logit_scale > 0 ? str_cat(" | logit scale ", std::round(stats.logit_scale * 100) / 100) : "",
                   samples_per_s, data_wait, progress.eta(state.step));
      progress.redraw();
      data_wait = 0;
      samples_since_log = 0;
      log_start = Clock::now();
    }
    if (tc.checkpoint_every > 0 && state.step % tc.checkpoint_every == 0) save();
  }
  if (state.step != last_saved || !checkpoints.latest()) save();
  progress.finish();
  result.step = state.step;
  result.finished = state.step >= total;
  if (stop_requested())
    spdlog::warn("stopped by signal {} at step {}/{}; continue with --resume", stop_signal(), state.step, total);
  else if (!result.finished)
    spdlog::info("stopped after {} steps (train.stop_after) at step {}/{}; continue with --resume", tc.stop_after,
                 state.step, total);
  return result;
}

}  // namespace mmcl::train

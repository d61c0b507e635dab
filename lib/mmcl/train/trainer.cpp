#include "mmcl/train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <optional>

#include <ATen/ATen.h>

#include "mmcl/config/load.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/signals.h"
#include "mmcl/data/loader.h"
#include "mmcl/dist/ddp.h"
#include "mmcl/dist/group.h"
#include "mmcl/dist/slurm.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/models/sync_batchnorm.h"
#include "mmcl/train/evaluate.h"
#include "mmcl/train/progress.h"
#include "mmcl/train/optim.h"

namespace mmcl::train {
namespace {

models::Embeddings concat_with(const std::vector<models::Embeddings>& cached, size_t live_index,
                               const models::Embeddings& live) {
  models::Embeddings all;
  for (const auto& [modality, tensor] : live.by_modality) {
    std::vector<at::Tensor> parts;
    for (size_t i = 0; i < cached.size(); ++i) parts.push_back(i == live_index ? tensor : cached[i].at(modality));
    all.by_modality[modality] = at::cat(parts, 0);
  }
  // The logit scale's (and bias's) gradient is taken from the first pass only, so it is counted once.
  all.logit_scale = live_index == 0 ? live.logit_scale : live.logit_scale.detach();
  if (live.logit_bias.defined()) all.logit_bias = live_index == 0 ? live.logit_bias : live.logit_bias.detach();
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
    all.logit_bias = local.logit_bias;
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

TrainResult pretrain(const run::Run& run, const RunDir& dir, const Runtime& runtime) {
  const config::RunConfig& cfg = run.config;
  models::ContrastiveModel& model = *run.model;
  GradScaler scaler(run.precision.scale_loss);
  losses::LossPtr loss = losses::make_loss(cfg.loss);
  auto optimizer = make_optimizer(model, cfg.optim);
  data::Loader loader(run.dataset, loader_options(cfg.data, cfg.run.seed, runtime));
  const GlobalBatch global{runtime.group.get(), cfg.loss.local_loss, cfg.loss.gather_with_grad};
  // dist.sync_bn: every BatchNorm of the model takes its statistics over the global batch while this run
  // trains (the all-reduces run in the same order on every rank: the model's layer order).
  struct SyncBatchNorm {
    explicit SyncBatchNorm(std::shared_ptr<dist::Group> group) {
      if (group) models::set_batchnorm_sync([group](at::Tensor& t) { group->all_reduce_sum(t); });
    }
    ~SyncBatchNorm() { models::set_batchnorm_sync({}); }
  } sync_bn(cfg.dist.sync_bn && runtime.group && runtime.group->world_size() > 1 ? runtime.group : nullptr);

  int64_t params = 0;
  for (const auto& p : model.parameters()) params += p.numel();
  TrainingJob job;
  job.module = &model;
  job.optimizer = optimizer.get();
  job.loader = &loader;
  const StepPrecision step_precision{run.precision, runtime.device, &scaler};
  job.step = [&](const std::vector<data::Batch>& micro) {
    return forward_backward(model, *loss, micro, global, step_precision);
  };
  job.scaler = &scaler;
  job.after_step = [&] { model.after_step(); };
  std::optional<EvaluationDuringTraining> evaluation;
  if (cfg.eval.every > 0) {
    evaluation.emplace(run, loss, runtime);
    job.evaluate = [&] { return evaluation->evaluate(); };
    job.eval_every = cfg.eval.every;
  }
  job.description = str_cat("model ", cfg.model.name, " (", static_cast<double>(params) / 1e6, " M parameters), loss ",
                            cfg.loss.name, ", ", run.dataset->size(), " samples, precision ", run.precision.name());
  return run_training(job, {cfg.train, cfg.optim, {config::dump_config(cfg), run.tokenizer_state}, cfg.dist.bucket_mb},
                      dir, runtime);
}

data::LoaderOptions loader_options(const config::DataConfig& data, int64_t seed, const Runtime& runtime) {
  data::LoaderOptions lo;
  if (runtime.group) {
    lo.rank = runtime.group->rank();
    lo.world = runtime.group->world_size();
  }
  lo.batch_size = data.batch_size;
  lo.workers = data.workers;
  lo.prefetch = data.prefetch;
  lo.seed = static_cast<uint64_t>(seed);
  lo.pin_memory = runtime.device.is_cuda();  // then each batch's copy to the GPU does not block
  return lo;
}

namespace {

// One run of the training loop, in the pieces it is made of: resume, the step, the deferred loss
// check, agreement between ranks, logging and the end report.
class Loop {
 public:
  Loop(const TrainingJob& job, const LoopSettings& settings, const RunDir& dir, const Runtime& runtime)
      : job_(job), tc_(settings.train), oc_(settings.optim), meta_(settings.meta), dir_(dir), runtime_(runtime),
        group_(runtime.group ? runtime.group : dist::single_process()), main_(group_->is_main()),
        world_(group_->world_size()), accum_(settings.optim.accum_steps), bucket_mb_(settings.bucket_mb),
        checkpoints_(dir.checkpoints()), host_(runtime.device.is_cpu()) {
    data::Loader& loader = *job.loader;
    step_samples_ = accum_ * loader.batch_size() * world_;  // the global batch of one step
    steps_per_epoch_ = loader.batches_per_epoch() / accum_;
    MMCL_CHECK(steps_per_epoch_ > 0, "one step needs ", step_samples_,
               " samples (data.batch_size x optim.accum_steps", world_ > 1 ? " x processes" : "", ") but an epoch has ",
               loader.batches_per_epoch(), " batches");
    total_ = tc_.steps > 0 ? tc_.steps : tc_.epochs * steps_per_epoch_;
    spdlog::info("{}, {} steps/epoch, {} steps, batch {} x {} accum{}", job.description, steps_per_epoch_, total_,
                 loader.batch_size(), accum_, world_ > 1 ? str_cat(" x ", world_, " processes") : "");
  }

  TrainResult run() {
    if (main_) {
      // What a killed run (or a full disk) left half-written; the files it meant to write are intact.
      int stale = 0;
      for (const auto& folder : {dir_.root, dir_.checkpoints()}) stale += remove_stale_temporaries(folder);
      if (stale > 0) spdlog::warn("removed {} temporary files left by an interrupted run in {}", stale, dir_.root.string());
    }
    resume();
    join_ranks();
    if (main_) metrics_.emplace(dir_.metrics_file(), dir_.resuming ? state_.step : -1, dir_.root / "tb");
    if (main_ && job_.evaluate) eval_log_.emplace(dir_.root / "eval.jsonl", dir_.resuming ? state_.step : -1);
    read_best();
    install_stop_handlers();
    progress_.emplace(state_.step, total_, main_);
    first_step_ = last_saved_ = state_.step;
    log_start_ = Clock::now();
    job_.module->train();
    while (state_.step < total_) {
      if (world_ == 1) stopped_by_ = stop_signal();
      if (stopped_by_ != 0) break;
      if (tc_.stop_after > 0 && state_.step - first_step_ >= tc_.stop_after) break;
      step();
      if (tc_.checkpoint_every > 0 && state_.step % tc_.checkpoint_every == 0) save();
    }
    if (state_.step != last_saved_ || (main_ && !checkpoints_.latest())) save();
    check_losses();
    progress_->finish();
    // Rank 0 serves the rendezvous store: every rank leaves together, after the last checkpoint.
    group_->barrier();
    return report();
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

  // --resume: model, optimiser, step, loss scale and RNG states from the latest checkpoint; the config
  // keys that changed since are logged.
  void resume() {
    if (!dir_.resuming) return;
    // The newest checkpoint whose checksum holds (a damaged newest one is logged and passed over).
    const auto latest = checkpoints_.latest_good();
    if (!latest) {
      if (!checkpoints_.all().empty())
        throw Error(str_cat("--resume: no checkpoint in ", dir_.checkpoints().string(), " passes its checksum"));
      spdlog::info("--resume: no checkpoint in {}, starting from step 0", dir_.checkpoints().string());
      return;
    }
    const io::CheckpointInfo info = io::load_checkpoint(*latest, *job_.module, job_.optimizer, /*verify=*/false);  // latest_good verified it
    state_ = info.state;
    resume_data_positions();
    if (job_.scaler && job_.scaler->enabled() && state_.loss_scale > 0)
      job_.scaler->restore(state_.loss_scale, state_.loss_scale_good_steps);
    const auto before = config::load_resolved_config(info.meta.config_yaml, latest->string());
    const auto now = config::load_resolved_config(meta_.config_yaml, "this run's config");
    for (const std::string& change : config::config_differences(before, now))
      spdlog::warn("config differs from the checkpoint's: {}", change);
    spdlog::info("resumed from {} at step {}", latest->string(), state_.step);
  }

  // Streamed data: each loader stream goes on from the sample it had reached (recorded for every
  // process at the checkpoint; none at an epoch's end, where the next epoch starts afresh).
  void resume_data_positions() {
    data::Loader& loader = *job_.loader;
    const auto& rows = state_.data_positions;
    if (!loader.streamed() || rows.empty()) return;
    if (static_cast<int64_t>(rows.size()) != world_) {
      spdlog::warn("the checkpoint's data positions are for {} processes, this run has {}: the epoch goes on from an "
                   "estimate, not exactly where it stopped",
                   rows.size(), world_);
      return;
    }
    loader.resume_positions(state_.step / steps_per_epoch_, (state_.step % steps_per_epoch_) * accum_,
                            rows[static_cast<size_t>(group_->rank())]);
  }

  // Every process's stream positions, in rank order, for the checkpoint (a collective: all ranks call it).
  std::vector<std::vector<int64_t>> gather_data_positions() {
    data::Loader& loader = *job_.loader;
    if (!loader.streamed() || state_.step % steps_per_epoch_ == 0) return {};
    const std::vector<int64_t> mine = loader.positions();
    at::Tensor local = at::tensor(mine, at::kLong).reshape({1, -1});
    const at::Tensor all = group_->all_gather(local.to(runtime_.device)).cpu().contiguous();
    std::vector<std::vector<int64_t>> rows;
    for (int64_t r = 0; r < all.size(0); ++r) {
      const int64_t* row = all.data_ptr<int64_t>() + r * all.size(1);
      rows.emplace_back(row, row + all.size(1));
    }
    return rows;
  }

  // Several processes: every rank starts from rank 0's parameters, fresh or resumed.
  void join_ranks() {
    if (world_ == 1) return;
    dist::broadcast_state(*group_, *job_.module);
    reducer_ = std::make_unique<dist::GradientReducer>(group_, job_.module->parameters(), bucket_mb_);
  }

  // One optimiser step: its batches (which follow from the step alone, so a resume lands on the same
  // data), forward and backward, agreement between ranks, the optimiser, then logging.
  void step() {
    data::Loader& loader = *job_.loader;
    const int64_t epoch = state_.step / steps_per_epoch_;
    if (epoch != loaded_epoch_) {
      loader.start_epoch(epoch, (state_.step % steps_per_epoch_) * accum_);
      loaded_epoch_ = epoch;
    }
    const Clock::time_point step_start = Clock::now();
    std::vector<data::Batch> micro;
    for (int64_t i = 0; i < accum_; ++i) {
      std::optional<data::Batch> b = loader.next();
      MMCL_CHECK(b.has_value(), "internal: the loader ran out of batches within an epoch");
      micro.push_back(b->to(runtime_.device, /*non_blocking=*/!host_));
    }
    data_wait_ += seconds_since(step_start);

    const double lr = learning_rate(oc_, state_.step, total_);
    set_learning_rate(*job_.optimizer, lr);
    job_.optimizer->zero_grad();
    const StepStats stats = job_.step(micro);
    if (pending_.empty()) pending_first_ = state_.step;
    if (world_ > 1) {
      reducer_->reduce();
      agree_with_ranks(stats.loss);
    } else {
      pending_.push_back(stats.loss);
    }
    // amp_fp16: gradients back to their true scale; a step with an inf/NaN gradient is skipped (every
    // rank sees the same reduced gradients, so every rank skips it).
    const at::Tensor grad_norm = step_optimizer(*job_.optimizer, *job_.module, job_.scaler, oc_.grad_clip);
    if (job_.after_step) job_.after_step();
    ++state_.step;
    samples_since_log_ += step_samples_;

    const bool epoch_end = state_.step % steps_per_epoch_ == 0;
    const bool eval_now =
        job_.evaluate && job_.eval_every > 0 && (state_.step % job_.eval_every == 0 || state_.step == total_);
    const bool log_now = state_.step % tc_.log_every == 0 || state_.step == total_ || state_.step == first_step_ + 1 ||
                         (epoch_end && job_.at_epoch_end) || eval_now;
    if (log_now) check_losses();
    if (host_) loss_value_ = pending_.empty() ? loss_value_ : pending_.back().item<double>();

    // The console line follows every step; the log and metrics every train.log_every steps.
    const double step_rate = static_cast<double>(step_samples_) / seconds_since(step_start);
    recent_rate_ = recent_rate_ > 0 ? 0.9 * recent_rate_ + 0.1 * step_rate : step_rate;
    progress_->update(state_.step, loss_value_, recent_rate_);
    if (log_now) log_step(lr, stats, grad_norm, epoch_end, eval_now);
  }

  // One small all-reduce per step: the mean loss, and whether any rank was asked to stop (by which
  // signal), so every rank stops after the same step.
  void agree_with_ranks(const at::Tensor& loss) {
    const int sig = stop_signal();
    const at::Tensor flags =
        at::tensor({sig == SIGINT ? 1.0 : 0.0, sig == SIGTERM ? 1.0 : 0.0, sig == SIGUSR1 ? 1.0 : 0.0}, at::kDouble);
    at::Tensor agree = at::cat({loss.to(at::kDouble).reshape({1}), flags.to(runtime_.device)});
    group_->all_reduce_sum(agree);
    agree = agree.cpu();
    const double* a = agree.data_ptr<double>();
    pending_.push_back(at::scalar_tensor(a[0] / static_cast<double>(world_), at::kDouble));
    stopped_by_ = a[3] > 0 ? SIGUSR1 : a[2] > 0 ? SIGTERM : a[1] > 0 ? SIGINT : 0;
  }

  // Reading a value computed on a GPU waits for the device, so the losses of the steps since the last
  // check are kept as tensors and read back in one go at logging and checkpoint steps (on the CPU,
  // where a read costs nothing, the progress line also shows every step's loss).
  void check_losses() {
    if (pending_.empty()) return;
    const at::Tensor values = at::stack(pending_).to(at::kCPU, at::kDouble).contiguous();
    const double* v = values.data_ptr<double>();
    for (size_t i = 0; i < pending_.size(); ++i)
      if (!std::isfinite(v[i]))
        throw Error(str_cat("the loss is ", v[i], " at step ", pending_first_ + static_cast<int64_t>(i) + 1,
                            "; the last checkpoint is intact (try a lower optim.lr or optim.grad_clip)"));
    loss_value_ = v[pending_.size() - 1];
    pending_.clear();
  }

  // A metrics line (rank 0) and a log line; at an epoch's end the job may add its figures first.
  void log_step(double lr, const StepStats& stats, const at::Tensor& grad_norm, bool epoch_end, bool eval_now) {
    const double elapsed = seconds_since(log_start_);
    const double samples_per_s = elapsed > 0 ? static_cast<double>(samples_since_log_) / elapsed : 0.0;
    nlohmann::json record = {{"step", state_.step},
                             {"epoch", static_cast<double>(state_.step) / static_cast<double>(steps_per_epoch_)},
                             {"lr", lr},
                             {"loss", loss_value_},
                             {"samples_per_s", samples_per_s},
                             {"data_wait_s", data_wait_},
                             {"data/skipped", job_.loader->skipped()}};
    const double logit_scale = stats.logit_scale.defined() ? stats.logit_scale.item<double>() : 0.0;
    if (logit_scale > 0) record["logit_scale"] = logit_scale;
    if (grad_norm.defined()) record["grad_norm"] = grad_norm.item<double>();
    if (runtime_.device.is_cuda()) record["gpu_mem_peak_mb"] = gpu_peak_memory_mb(runtime_.device);
    if (epoch_end && job_.at_epoch_end) {
      progress_->clear();
      job_.at_epoch_end(state_.step / steps_per_epoch_, record);
      job_.module->train();
    }
    if (eval_now) evaluate(record);
    if (metrics_) metrics_->write(record);
    progress_->clear();
    spdlog::info("step {}/{} | epoch {:.2f} | loss {:.4f} | lr {:.3g}{} | {:.1f} samples/s | data wait {:.2f} s | ETA {}",
                 state_.step, total_, record["epoch"].get<double>(), loss_value_, lr,
                 logit_scale > 0 ? str_cat(" | logit scale ", std::round(logit_scale * 100) / 100) : "", samples_per_s,
                 data_wait_, progress_->eta(state_.step));
    progress_->redraw();
    data_wait_ = 0;
    samples_since_log_ = 0;
    log_start_ = Clock::now();
  }

  // eval.every: the job's evaluation joins the step's metrics line and makes a line of eval.jsonl.
  void evaluate(nlohmann::json& record) {
    progress_->clear();
    const nlohmann::json results = job_.evaluate();
    job_.module->train();
    nlohmann::json line = {{"step", state_.step}};
    for (const auto& [name, value] : results.items()) record[name] = value, line[name] = value;
    if (eval_log_) eval_log_->write(line);
    keep_best(results);
    progress_->redraw();
  }

  // train.keep_best: a better value than any before saves checkpoints/best.pt and best.json (rank 0).
  void keep_best(const nlohmann::json& results) {
    const std::string& metric = tc_.keep_best;
    if (metric.empty()) return;
    if (!results.contains(metric) || !results[metric].is_number()) {
      spdlog::warn("train.keep_best: the evaluation gave no {}", metric);
      return;
    }
    const double value = results[metric].get<double>();
    if (!std::isfinite(value)) return;
    const bool lower = config::lower_is_better(metric);
    if (best_step_ >= 0 && !(lower ? value < best_value_ : value > best_value_)) return;
    best_value_ = value;
    best_step_ = state_.step;
    if (!main_) return;
    io::TrainState state = state_;
    state.epoch = state_.step / steps_per_epoch_;
    state.data_positions.clear();
    const std::filesystem::path file = dir_.checkpoints() / "best.pt";
    std::filesystem::create_directories(file.parent_path());
    io::save_checkpoint(file, *job_.module, nullptr, state, meta_);
    write_file_atomic(dir_.checkpoints() / "best.json",
                      nlohmann::json({{"metric", metric}, {"value", value}, {"step", state_.step}, {"checkpoint", "best.pt"}})
                              .dump(2) + "\n");
    spdlog::info("best {} {:.4f} at step {}: {}", metric, value, state_.step, file.string());
  }

  // A resumed run goes on comparing with the best value it had kept.
  void read_best() {
    if (tc_.keep_best.empty() || !dir_.resuming) return;
    const std::filesystem::path file = dir_.checkpoints() / "best.json";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return;
    const nlohmann::json best = nlohmann::json::parse(read_file(file), nullptr, /*allow_exceptions=*/false);
    if (best.is_object() && best.value("metric", "") == tc_.keep_best && best.contains("value") && best["value"].is_number()) {
      best_value_ = best["value"].get<double>();
      best_step_ = best.value("step", int64_t{0});
      spdlog::info("train.keep_best: the best {} so far is {:.4f} (step {})", tc_.keep_best, best_value_, best_step_);
    } else {
      spdlog::warn("{} is not a record of train.keep_best {}: the next evaluation replaces it", file.string(), tc_.keep_best);
    }
  }

  void save() {
    // Never a checkpoint of weights a non-finite loss has reached.
    check_losses();
    last_saved_ = state_.step;
    state_.data_positions = gather_data_positions();
    if (!main_) return;
    state_.epoch = state_.step / steps_per_epoch_;
    if (job_.scaler && job_.scaler->enabled()) {
      state_.loss_scale = job_.scaler->scale();
      state_.loss_scale_good_steps = job_.scaler->good_steps();
    }
    const auto file = checkpoints_.save(*job_.module, job_.optimizer, state_, meta_, tc_.keep_checkpoints);
    progress_->clear();
    spdlog::info("checkpoint {}", file.string());
    progress_->redraw();
  }

  TrainResult report() {
    TrainResult result;
    result.total_steps = total_;
    result.step = state_.step;
    result.last_loss = loss_value_;
    result.finished = state_.step >= total_;
    result.stop_signal = stopped_by_;
    if (stopped_by_ != 0) {
      spdlog::warn("stopped by signal {} at step {}/{}; continue with --resume", stopped_by_, state_.step, total_);
      if (main_ && stopped_by_ == SIGUSR1 && tc_.requeue && std::getenv("SLURM_JOB_ID")) dist::requeue_slurm_job();
    } else if (!result.finished) {
      spdlog::info("stopped after {} steps (train.stop_after) at step {}/{}; continue with --resume", tc_.stop_after,
                   state_.step, total_);
    }
    return result;
  }

  const TrainingJob& job_;
  const config::TrainConfig& tc_;
  const config::OptimConfig& oc_;
  const io::CheckpointMeta& meta_;
  const RunDir& dir_;
  const Runtime& runtime_;
  const std::shared_ptr<dist::Group> group_;
  const bool main_;
  const int64_t world_, accum_;
  const double bucket_mb_;
  io::CheckpointDir checkpoints_;
  const bool host_;
  int64_t step_samples_ = 0, steps_per_epoch_ = 0, total_ = 0;

  io::TrainState state_;
  std::unique_ptr<dist::GradientReducer> reducer_;
  std::optional<MetricsLog> metrics_;
  std::optional<MetricsLog> eval_log_;  // eval.jsonl
  double best_value_ = 0;               // train.keep_best: the best value so far, at best_step_ (-1: none)
  int64_t best_step_ = -1;
  std::optional<Progress> progress_;
  int64_t first_step_ = 0, last_saved_ = 0, loaded_epoch_ = -1;
  double data_wait_ = 0;
  int64_t samples_since_log_ = 0;
  double recent_rate_ = 0;  // samples/s, smoothed over recent steps
  Clock::time_point log_start_;
  int stopped_by_ = 0;  // the stop signal, agreed by all ranks
  std::vector<at::Tensor> pending_;  // the loss of each step since the last check (the ranks' mean)
  int64_t pending_first_ = 0;        // the step index of pending_[0]
  double loss_value_ = std::nan("");  // the newest loss read back
};

}  // namespace

TrainResult run_training(const TrainingJob& job, const LoopSettings& settings, const RunDir& dir,
                         const Runtime& runtime) {
  return Loop(job, settings, dir, runtime).run();
}

}  // namespace mmcl::train

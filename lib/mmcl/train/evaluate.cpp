#include "mmcl/train/evaluate.h"

#include <algorithm>
#include <chrono>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/log.h"
#include "mmcl/core/precision.h"
#include "mmcl/eval/retrieve.h"
#include "mmcl/eval/zeroshot.h"
#include "mmcl/train/trainer.h"

namespace mmcl::train {
namespace {

bool wants(const config::EvalConfig& eval, const char* what) {
  return std::find(eval.during.begin(), eval.during.end(), what) != eval.during.end();
}

}  // namespace

EvaluationDuringTraining::EvaluationDuringTraining(const run::Run& run, losses::LossPtr loss, const Runtime& runtime)
    : run_(run), loss_(std::move(loss)), runtime_(runtime) {
  run_.dataset.reset();  // the training data stays with the trainer
  const config::RunConfig& c = run_.config;
  if (!wants(c.eval, "val_loss")) return;
  config::DataConfig held_out = c.data;
  uint64_t seed = static_cast<uint64_t>(c.run.seed);
  if (dataset_capabilities(c.data.type).source == DataSource::generated) {
    held_out.synthetic.size = std::max(c.data.batch_size, c.data.synthetic.size / 10);
    seed = data::mix_seed(seed, 0x76616c);  // other samples than the training ones
  } else {
    held_out.train = c.data.val;
  }
  std::shared_ptr<data::Dataset> set;
  try {
    set = data::make_dataset(held_out, run_.spec, seed);
  } catch (const ConfigError& e) {
    throw ConfigError(str_cat("data.val: ", e.what()));
  }
  MMCL_CHECK(set->size() > 0, "data.val (", c.data.val, ") holds no sample");
  data::LoaderOptions o = loader_options(held_out, c.run.seed);  // every rank evaluates all of it
  o.batch_size = std::min(c.data.batch_size, set->size());
  o.shuffle = false;
  o.drop_last = true;  // the loss of a contrastive batch depends on its size: full batches only
  o.pin_memory = runtime.device.is_cuda();
  val_ = std::make_unique<data::Loader>(set, o);
}

double EvaluationDuringTraining::validation_loss() {
  MMCL_CHECK(val_, "internal: no validation data");
  models::ContrastiveModel& model = *run_.model;
  model.eval();
  // Epoch 0 every time: the same samples with the same augmentation draws at every evaluation.
  val_->start_epoch(0);
  const c10::InferenceMode inference;
  at::Tensor sum;
  int64_t batches = 0;
  while (std::optional<data::Batch> b = val_->next()) {
    const data::Batch batch = inputs_for(b->to(runtime_.device, /*non_blocking=*/runtime_.device.is_cuda()), run_.precision);
    at::Tensor loss;
    {
      const AutocastGuard autocast(run_.precision, runtime_.device);
      loss = (*loss_)(model.forward(batch)).total.detach().to(at::kDouble);
    }
    sum = sum.defined() ? sum + loss : loss;
    ++batches;
  }
  MMCL_CHECK(batches > 0, "data.val gave no full batch of ", val_->batch_size(), " samples");
  return sum.item<double>() / static_cast<double>(batches);
}

nlohmann::json EvaluationDuringTraining::evaluate() {
  const auto start = std::chrono::steady_clock::now();
  const config::EvalConfig& e = run_.config.eval;
  run_.model->eval();
  nlohmann::json out = nlohmann::json::object();
  std::string line;
  if (wants(e, "zeroshot")) {
    const eval::ZeroshotResult z = eval::zeroshot(run_);
    out["eval/zeroshot/top1"] = z.metrics.top1;
    out["eval/zeroshot/top5"] = z.metrics.top5;
    line += format_line(" | zero-shot top-1 %.2f%% top-5 %.2f%%", 100 * z.metrics.top1, 100 * z.metrics.top5);
  }
  if (wants(e, "retrieval")) {
    const eval::RetrievalResult r = eval::retrieve(run_);
    const eval::RetrievalMetrics& m = r.metrics;
    const auto put = [&](const std::string& direction, double r1, double r5, double r10, double median) {
      const std::string p = "eval/retrieval/" + direction + "_";
      out[p + "R@1"] = r1, out[p + "R@5"] = r5, out[p + "R@10"] = r10, out[p + "median_rank"] = median;
    };
    put(r.query + "_to_" + r.target, m.image_to_text_r1, m.image_to_text_r5, m.image_to_text_r10, m.image_to_text_median_rank);
    put(r.target + "_to_" + r.query, m.text_to_image_r1, m.text_to_image_r5, m.text_to_image_r10, m.text_to_image_median_rank);
    out["eval/retrieval/rsum"] = m.rsum;
    line += format_line(" | retrieval R@1 %.2f%% / %.2f%% rsum %.1f", 100 * m.image_to_text_r1, 100 * m.text_to_image_r1, m.rsum);
  }
  if (val_) {
    out["eval/val_loss"] = validation_loss();
    line += format_line(" | val loss %.4f", out["eval/val_loss"].get<double>());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out["eval/seconds"] = seconds;
  spdlog::info("evaluation{} ({:.1f} s)", line, seconds);
  return out;
}

}  // namespace mmcl::train

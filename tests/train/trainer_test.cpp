// The training loop itself (train::run_training) with a hand-written job: a one-weight model whose
// loss is known in closed form, so what the loop logs, checks and checkpoints can be compared exactly.

#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/nn/modules/linear.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"
#include "fixtures.h"
#include "util.h"

using namespace mmcl;
namespace fs = std::filesystem;

namespace {

// Sample i holds the number i as its one-pixel "image".
class NumberDataset : public data::Dataset {
 public:
  int64_t size() const override { return 16; }
  data::Sample get(int64_t index, uint64_t) const override {
    data::Sample s;
    s.image = at::full({1}, static_cast<double>(index), at::kFloat);
    s.index = index;
    return s;
  }
};

config::RunConfig loop_config(int64_t steps) {
  config::RunConfig c;
  c.train.steps = steps;
  c.train.log_every = 5;
  c.train.checkpoint_every = 2;
  c.train.keep_checkpoints = 10;
  c.data.batch_size = 2;
  c.data.workers = 0;
  c.optim.lr = 1e-3;
  c.optim.warmup_steps = 0;
  return c;
}

}  // namespace

CATCH_TEST_CASE("the training loop reads losses back only at log and checkpoint steps, exactly", "[train]") {
  test::TempDir dir;
  fs::create_directories(dir.path() / "checkpoints");
  RunDir run{dir.path(), false};
  const config::RunConfig cfg = loop_config(6);
  torch::nn::Linear model(torch::nn::LinearOptions(1, 1).bias(false));
  auto optimizer = train::make_optimizer(*model, cfg.optim);
  data::Loader loader(std::make_shared<NumberDataset>(), train::loader_options(cfg.data, cfg.run.seed));

  std::vector<double> losses;  // what each step computed
  int64_t step = 0;
  train::TrainingJob job;
  job.module = model.ptr().get();
  job.optimizer = optimizer.get();
  job.loader = &loader;
  job.step = [&](const std::vector<data::Batch>& micro) {
    ++step;
    const at::Tensor loss = model(micro.front().image).pow(2).mean();
    loss.backward();
    losses.push_back(loss.item<double>());
    // A non-finite loss at step 5: between the checkpoint of step 4 and the log of step 5 ... 6.
    return train::StepStats{step == 5 ? loss.detach() * std::numeric_limits<double>::quiet_NaN() : loss.detach(), {}};
  };

  std::string message;
  try {
    train::run_training(job, {cfg.train, cfg.optim, {config::dump_config(cfg), ""}}, run, Runtime{});
  } catch (const Error& e) {
    message = e.what();
  }
  CATCH_INFO(message);
  CATCH_CHECK(message.find("the loss is nan at step 5") != std::string::npos);
  CATCH_CHECK(message.find("the last checkpoint is intact") != std::string::npos);
  // The check at step 5's log caught it: step 6 never ran, and no checkpoint holds step 5's weights.
  CATCH_CHECK(step == 5);
  io::CheckpointDir checkpoints(run.checkpoints());
  CATCH_REQUIRE(checkpoints.latest().has_value());
  CATCH_CHECK(checkpoints.latest()->filename() == "step_4.pt");

  // The metrics hold the values the steps computed (step 1, the first; step 4 is not a log step).
  const auto lines = test::read_json_lines(run.metrics_file());
  CATCH_REQUIRE(lines.size() == 1);
  CATCH_CHECK(lines[0]["step"] == 1);
  CATCH_CHECK(lines[0]["loss"].get<double>() == losses[0]);
}

CATCH_TEST_CASE("clipping logs the gradient norm and a resumed run keeps the loss scale", "[train]") {
  test::TempDir dir;
  fs::create_directories(dir.path() / "checkpoints");
  config::RunConfig cfg = loop_config(4);
  cfg.train.log_every = 1;
  cfg.train.checkpoint_every = 3;
  cfg.optim.grad_clip = 1e-3;

  auto run_once = [&](bool resuming, int64_t stop_after, train::GradScaler& scaler, std::vector<double>& norms) {
    torch::manual_seed(0);
    torch::nn::Linear model(torch::nn::LinearOptions(1, 1).bias(false));
    auto optimizer = train::make_optimizer(*model, cfg.optim);
    config::RunConfig c = cfg;
    c.train.stop_after = stop_after;
    data::Loader loader(std::make_shared<NumberDataset>(), train::loader_options(c.data, c.run.seed));
    train::TrainingJob job;
    job.module = model.ptr().get();
    job.optimizer = optimizer.get();
    job.loader = &loader;
    job.scaler = &scaler;
    job.step = [&](const std::vector<data::Batch>& micro) {
      const at::Tensor& x = micro.front().image;
      const at::Tensor loss = model(x).pow(2).mean();
      scaler.scale_loss(loss).backward();
      // d/dw mean((w x)^2) = 2 w mean(x^2): the norm the loop must log (before clipping, after unscaling).
      norms.push_back(std::abs(2 * model->weight.item<double>() * x.pow(2).mean().item<double>()));
      return train::StepStats{loss.detach(), {}};
    };
    train::run_training(job, {c.train, c.optim, {config::dump_config(c), ""}}, RunDir{dir.path(), resuming}, Runtime{});
  };

  // Growth every 2 good steps: 3 steps take the scale from 1024 to 2048 with one good step counted.
  train::GradScaler first(true, 1024.0, 2);
  std::vector<double> norms;
  run_once(false, 3, first, norms);
  CATCH_CHECK(first.scale() == 2048.0);
  CATCH_CHECK(first.good_steps() == 1);
  // Resumed with a fresh scaler: step 4 continues from the checkpoint's 2048 and one good step, so
  // it doubles again (from 1024 and no good steps it would stay at 1024).
  train::GradScaler second(true, 1024.0, 2);
  run_once(true, 0, second, norms);
  CATCH_CHECK(second.scale() == 4096.0);
  CATCH_CHECK(second.good_steps() == 0);

  const auto lines = test::read_json_lines(dir.path() / "metrics.jsonl");
  CATCH_REQUIRE(lines.size() == 4);
  for (size_t i = 0; i < lines.size(); ++i) {
    CATCH_INFO("step " << i + 1);
    CATCH_REQUIRE(lines[i].contains("grad_norm"));
    CATCH_CHECK(lines[i]["grad_norm"].get<double>() == Approx(norms[i]).epsilon(1e-5));
  }
}

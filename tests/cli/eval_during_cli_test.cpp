// Evaluation during pretraining (eval.every, eval.during, train.keep_best) end to end on the colour squares.
#include <cmath>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mmcl/config/load.h"
#include "fixtures.h"
#include "run_results.h"

using namespace mmcl::test;

namespace {

// The colour squares' test images with both a label and a caption, for zero-shot and retrieval at once.
void write_labelled_captions(const fs::path& dir) {
  std::string csv = "filepath,label,title\n";
  for (int i = 0; i < 8; ++i) {
    const std::string colour = i % 2 ? "blue" : "red";
    csv += "img/test" + std::to_string(i) + ".png," + colour + ",a " + colour + " square\n";
  }
  write_text(dir / "eval.csv", csv);
}

std::string colours_yaml(const std::string& extra) {
  // The training manifest doubles as the held-out set (data.val).
  std::string yaml = colour_squares_yaml("colours", extra);
  const std::string data = "train: train.csv,";
  return yaml.replace(yaml.find(data), data.size(), "train: train.csv, val: train.csv,");
}

}  // namespace

CATCH_TEST_CASE("pretrain evaluates zero-shot and retrieval and the validation loss every eval.every steps", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  write_labelled_captions(dir.path());
  write_text(dir / "run.yaml",
             colours_yaml("optim: {lr: 0.003, warmup_steps: 2}\n"
                          "train: {steps: 12, log_every: 100, keep_best: eval/val_loss}\n"
                          "eval: {data: eval.csv, templates: ['a {} square'], every: 5, "
                          "during: [zeroshot, retrieval, val_loss]}\n"));
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("evaluation | zero-shot top-1") != std::string::npos);

  // Every 5 steps and at the end: steps 5, 10 and 12, each with every metric the config names.
  const fs::path run = dir / "runs/colours";
  const auto evals = read_json_lines(run / "eval.jsonl");
  CATCH_REQUIRE(evals.size() == 3);
  CATCH_CHECK(evals[0]["step"] == 5);
  CATCH_CHECK(evals[1]["step"] == 10);
  CATCH_CHECK(evals[2]["step"] == 12);
  const auto config = mmcl::config::load_resolved_config(read_text(run / "config.yaml"), "config.yaml");
  const std::vector<std::string> names = mmcl::config::evaluation_metrics(config);
  CATCH_CHECK(names.size() == 2 + 9 + 1);
  for (const auto& e : evals) {
    CATCH_CHECK(e.contains("time"));
    for (const std::string& name : names) {
      CATCH_CAPTURE(name);
      CATCH_REQUIRE(e.contains(name));
      CATCH_CHECK(std::isfinite(e[name].get<double>()));
    }
    CATCH_CHECK(e["eval/zeroshot/top1"].get<double>() >= 0.0);
    CATCH_CHECK(e["eval/zeroshot/top1"].get<double>() <= 1.0);
    CATCH_CHECK(e["eval/zeroshot/top5"].get<double>() == 1.0);  // two classes
    CATCH_CHECK(e["eval/retrieval/image_to_text_R@10"].get<double>() == 1.0);  // 8 captions
  }
  // The same numbers join the metrics lines of those steps (and so TensorBoard).
  std::map<int64_t, nlohmann::json> metrics;
  for (const auto& m : read_json_lines(run / "metrics.jsonl")) metrics[m["step"].get<int64_t>()] = m;
  for (const auto& e : evals) {
    const auto& m = metrics.at(e["step"].get<int64_t>());
    for (const std::string& name : names) CATCH_CHECK(m[name] == e[name]);
  }
  // The last evaluation is the final model's: the zeroshot subcommand on the final checkpoint agrees.
  const auto z = run_for_results("zeroshot --config run.yaml --set run.name=zs --set eval.checkpoint=runs/colours",
                                 dir.path(), "zs");
  CATCH_CHECK(z["top1"].get<double>() == Approx(evals[2]["eval/zeroshot/top1"].get<double>()));
  const auto r = run_for_results("retrieve --config run.yaml --set run.name=rt --set eval.checkpoint=runs/colours",
                                 dir.path(), "rt");
  CATCH_CHECK(r["rsum"].get<double>() == Approx(evals[2]["eval/retrieval/rsum"].get<double>()));

  // train.keep_best: the lowest validation loss, its step, and a checkpoint of that step that evaluates.
  size_t best = 0;
  for (size_t i = 1; i < evals.size(); ++i)
    if (evals[i]["eval/val_loss"].get<double>() < evals[best]["eval/val_loss"].get<double>()) best = i;
  const auto record = nlohmann::json::parse(read_text(run / "checkpoints/best.json"));
  CATCH_CHECK(record["metric"] == "eval/val_loss");
  CATCH_CHECK(record["step"] == evals[best]["step"]);
  CATCH_CHECK(record["value"].get<double>() == evals[best]["eval/val_loss"].get<double>());
  const auto zb = run_for_results("zeroshot --config run.yaml --set run.name=zb --set eval.checkpoint=runs/colours/checkpoints/best.pt",
                                  dir.path(), "zb");
  CATCH_CHECK(zb["top1"].get<double>() == Approx(evals[best]["eval/zeroshot/top1"].get<double>()));
  const auto summary = nlohmann::json::parse(read_text(run / "summary.json"));
  CATCH_CHECK(summary["best"]["step"] == record["step"]);
  CATCH_CHECK(summary.contains("eval/zeroshot/top1"));
}

CATCH_TEST_CASE("the validation loss is the training loss of the same batch when nothing moves", "[cli]") {
  // data.val = data.train, one batch holding all 32 pairs (InfoNCE does not depend on their order), crops
  // of the whole image (scale 1), a learning rate too small to move the weights: the validation loss at
  // every evaluation equals the training loss of the first step.
  TempDir dir;
  write_colour_squares(dir.path());
  write_text(dir / "run.yaml",
             colours_yaml("optim: {lr: 1.0e-12, warmup_steps: 0}\n"
                          "train: {steps: 3, log_every: 1}\n"
                          "eval: {every: 1, during: val_loss}\n") +
                 "");
  const auto pre = run_mmcl("pretrain --config run.yaml --set data.batch_size=32 --set data.image.scale=[1,1]", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  const auto metrics = read_json_lines(dir / "runs/colours/metrics.jsonl");
  CATCH_REQUIRE(metrics.size() == 3);
  const double first = metrics[0]["loss"].get<double>();
  for (const auto& m : metrics) CATCH_CHECK(m["eval/val_loss"].get<double>() == Approx(first).epsilon(1e-5));
}

CATCH_TEST_CASE("a resumed run keeps its evaluations and its best checkpoint", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("tiny", 8) +
                                   "eval:\n  every: 2\n  during: [val_loss]\n");
  // Synthetic data holds out samples of its own for the validation loss: no data.val.
  const auto first = run_mmcl("pretrain --config run.yaml --set train.keep_best=eval/val_loss --set train.stop_after=5 "
                              "--set train.checkpoint_every=3", dir.path());
  CATCH_CAPTURE(first.output);
  CATCH_REQUIRE(first.exit_code == 0);
  // Evaluations at 2 and 4; the checkpoint of step 5 (stop_after) is where the run goes on.
  CATCH_CHECK(read_json_lines(dir / "runs/tiny/eval.jsonl").size() == 2);
  const auto resumed = run_mmcl("pretrain --resume runs/tiny", dir.path());
  CATCH_CAPTURE(resumed.output);
  CATCH_REQUIRE(resumed.exit_code == 0);
  CATCH_CHECK(resumed.output.find("the best eval/val_loss so far") != std::string::npos);
  const auto evals = read_json_lines(dir / "runs/tiny/eval.jsonl");
  CATCH_REQUIRE(evals.size() == 4);  // 2, 4, 6, 8: none twice
  std::vector<int64_t> steps;
  for (const auto& e : evals) steps.push_back(e["step"].get<int64_t>());
  CATCH_CHECK(steps == std::vector<int64_t>{2, 4, 6, 8});
  double lowest = INFINITY;
  int64_t at = 0;
  for (const auto& e : evals)
    if (e["eval/val_loss"].get<double>() < lowest) lowest = e["eval/val_loss"].get<double>(), at = e["step"].get<int64_t>();
  const auto record = nlohmann::json::parse(read_text(dir / "runs/tiny/checkpoints/best.json"));
  CATCH_CHECK(record["step"] == at);
  CATCH_CHECK(fs::exists(dir / "runs/tiny/checkpoints/best.pt"));
  // The step checkpoints' rotation leaves best.pt alone.
  CATCH_CHECK(fs::exists(dir / "runs/tiny/checkpoints/step_8.pt"));
}

CATCH_TEST_CASE("evaluation during training: config mistakes are named with their line", "[cli][config]") {
  TempDir dir;
  write_text(dir / "a.yaml", tiny_run_yaml("a", 4) + "eval:\n  every: 2\n");
  auto r = run_mmcl("pretrain --config a.yaml", dir.path());
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output.find("a.yaml:24: eval.every: eval.during is empty: name what to evaluate every 2 steps") !=
              std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/a"));

  write_text(dir / "b.yaml", tiny_run_yaml("b", 4) + "eval:\n  every: 2\n  during: [zeroshot, val_loss]\n");
  r = run_mmcl("pretrain --config b.yaml --set train.keep_best=eval/zeroshot/top3", dir.path());
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output.find("--set: train.keep_best: \"eval/zeroshot/top3\" is not a metric of eval.during (zeroshot, "
                            "val_loss); it produces eval/zeroshot/top1, eval/zeroshot/top5, eval/val_loss") != std::string::npos);

  write_text(dir / "c.yaml", tiny_run_yaml("c", 4) + "eval:\n  every: 2\n  during: [val_los]\n");
  r = run_mmcl("pretrain --config c.yaml", dir.path());
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output.find("c.yaml:25: eval.during: expected a list of distinct names from zeroshot, retrieval, val_loss") !=
              std::string::npos);

  // Zero-shot needs eval.data.
  write_text(dir / "d.yaml", tiny_run_yaml("d", 4) + "eval:\n  every: 2\n  during: zeroshot\n");
  r = run_mmcl("pretrain --config d.yaml", dir.path());
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output.find("eval.data: required for eval.during zeroshot") != std::string::npos);
}

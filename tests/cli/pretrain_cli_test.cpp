// End-to-end runs of the mmcl binary on tiny synthetic data.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/io/tensorboard.h"

using namespace mmcl::test;

CATCH_TEST_CASE("mmcl pretrain writes a complete run directory and the loss falls", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("smoke", 150) + "  checkpoint_every: 50\n  keep_checkpoints: 2\n");
  const auto r = run_mmcl("pretrain --config run.yaml --set optim.lr=0.0021", dir.path());
  CATCH_CAPTURE(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  const fs::path run = dir / "runs/smoke";
  CATCH_CHECK(fs::exists(run / "config.yaml"));
  CATCH_CHECK(read_text(run / "config.yaml").find("lr: 0.0021") != std::string::npos);
  const std::string log = read_text(run / "train.log");
  CATCH_CHECK(log.find("LibTorch") != std::string::npos);
  CATCH_CHECK(log.find("BLAS") != std::string::npos);
  CATCH_CHECK(log.find("step 150/150") != std::string::npos);

  const auto m = read_json_lines(run / "metrics.jsonl");
  CATCH_REQUIRE(m.size() == 150);
  for (const char* key : {"step", "epoch", "lr", "loss", "logit_scale", "samples_per_s", "data_wait_s", "data/skipped"}) {
    CATCH_CAPTURE(key);
    CATCH_CHECK(m.front().contains(key));
  }
  CATCH_CHECK(m.back()["step"] == 150);
  // Wall time and training seconds on every line, the latter growing.
  for (size_t i = 1; i < m.size(); ++i) {
    CATCH_REQUIRE(m[i].contains("time"));
    CATCH_REQUIRE(m[i]["elapsed_s"].get<double>() >= m[i - 1]["elapsed_s"].get<double>());
  }
  CATCH_CHECK(std::abs(m.back()["time"].get<double>() - static_cast<double>(std::time(nullptr))) < 600);
  // The run's summary: printed and in summary.json.
  CATCH_CHECK(r.output.find("summary: 150 steps in ") != std::string::npos);
  const nlohmann::json summary = nlohmann::json::parse(read_text(run / "summary.json"));
  CATCH_CHECK(summary["steps"] == 150);
  CATCH_CHECK(summary["final_loss"].get<double>() == m.back()["loss"].get<double>());
  double best = 1e9;
  for (const auto& line : m) best = std::min(best, line["loss"].get<double>());
  CATCH_CHECK(summary["best_loss"].get<double>() == best);
  CATCH_CHECK(summary["wall_s"].get<double>() == m.back()["elapsed_s"].get<double>());
  CATCH_CHECK(summary["checkpoint"].get<std::string>().find("step_150.pt") != std::string::npos);
  // The weights alone at the end, beside the checkpoints (which also hold the optimiser's moments).
  const auto final_weights = mmcl::io::load_safetensors(run / "final.safetensors");
  CATCH_CHECK(final_weights.metadata.at("mmcl_step") == "150");
  std::set<std::string> names;
  for (const auto& [name, t] : final_weights.tensors) names.insert(name);
  CATCH_CHECK(names.count("visual.conv1.weight") == 1);
  CATCH_CHECK(names.count("logit_scale") == 1);
  const bool smaller = fs::file_size(run / "final.safetensors") * 2 < fs::file_size(run / "checkpoints/step_150.pt");
  CATCH_CHECK(smaller);
  CATCH_CHECK(r.output.find("weights runs/smoke/final.safetensors") != std::string::npos);
  // TensorBoard: one event file, a scalar per number of each metrics line (step and time aside).
  std::vector<fs::path> events;
  for (const auto& e : fs::directory_iterator(run / "tb")) events.push_back(e.path());
  CATCH_REQUIRE(events.size() == 1);
  size_t scalars = 0;
  for (const auto& line : m)
    for (const auto& [name, value] : line.items()) scalars += value.is_number() && name != "step" && name != "time";
  CATCH_CHECK(mmcl::io::read_event_records(events[0]).size() == 1 + scalars);
  // The loss starts near ln(batch) = ln 8 and the mean of the last ten steps is far below it.
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += m[i]["loss"].get<double>() / 10, last += m[140 + i]["loss"].get<double>() / 10;
  CATCH_CHECK(first > 2.0);
  CATCH_CHECK(last < 0.5 * first);

  CATCH_CHECK(read_text(run / "checkpoints/latest") == "step_150.pt\n");
  CATCH_CHECK(fs::exists(run / "checkpoints/step_150.pt"));
  CATCH_CHECK(fs::exists(run / "checkpoints/step_100.pt"));
  CATCH_CHECK(!fs::exists(run / "checkpoints/step_50.pt"));  // keep_checkpoints: 2

  // The same run directory again is refused (exit 2), and nothing in it changes.
  const auto again = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CHECK(again.exit_code == 2);
  CATCH_CHECK(again.output.find("run directory exists; pass --resume") != std::string::npos);
  CATCH_CHECK(read_json_lines(run / "metrics.jsonl").size() == 150);
}

CATCH_TEST_CASE("resume continues exactly: k steps + resume equals N steps", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("whole", 8));
  const auto whole = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(whole.output);
  CATCH_REQUIRE(whole.exit_code == 0);

  const auto part = run_mmcl("pretrain --config run.yaml --set run.name=split --set train.stop_after=3", dir.path());
  CATCH_CAPTURE(part.output);
  CATCH_REQUIRE(part.exit_code == 0);
  CATCH_CHECK(read_text(dir / "runs/split/checkpoints/latest") == "step_3.pt\n");
  CATCH_CHECK(read_json_lines(dir / "runs/split/metrics.jsonl").size() == 3);
  const auto rest = run_mmcl("pretrain --config run.yaml --set run.name=split --resume", dir.path());
  CATCH_CAPTURE(rest.output);
  CATCH_REQUIRE(rest.exit_code == 0);
  CATCH_CHECK(rest.output.find("resumed from") != std::string::npos);

  // --resume RUN_DIR alone: the run's stored config (its train.stop_after belonged to the first invocation).
  CATCH_REQUIRE(run_mmcl("pretrain --config run.yaml --set run.name=alone --set train.stop_after=3", dir.path()).exit_code == 0);
  const auto alone = run_mmcl("pretrain --resume runs/alone", dir.path());
  CATCH_CAPTURE(alone.output);
  CATCH_REQUIRE(alone.exit_code == 0);
  CATCH_CHECK(alone.output.find("config from runs/alone/config.yaml") != std::string::npos);
  CATCH_CHECK(run_mmcl("pretrain --resume runs/nothing", dir.path()).exit_code == 2);
  CATCH_CHECK(run_mmcl("pretrain --set run.name=x", dir.path()).exit_code == 2);  // neither --config nor --resume

  // A resumed run's training seconds go on from the interrupted run's, in a second event file.
  const auto split = read_json_lines(dir / "runs/split/metrics.jsonl");
  CATCH_REQUIRE(split.size() == 8);
  CATCH_CHECK(split[3]["elapsed_s"].get<double>() >= split[2]["elapsed_s"].get<double>());
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir / "runs/split/tb")) ++files;
  CATCH_CHECK(files == 2);
  const auto a = read_json_lines(dir / "runs/whole/metrics.jsonl");
  for (const char* name : {"split", "alone"}) {
    CATCH_CAPTURE(name);
    const auto b = read_json_lines(dir / "runs" / name / "metrics.jsonl");
    CATCH_REQUIRE(a.size() == 8);
    CATCH_REQUIRE(b.size() == 8);
    for (size_t i = 0; i < a.size(); ++i) {
      CATCH_CAPTURE(i);
      CATCH_CHECK(b[i]["step"] == a[i]["step"]);
      CATCH_CHECK(b[i]["loss"].get<double>() == a[i]["loss"].get<double>());
      CATCH_CHECK(b[i]["lr"].get<double>() == a[i]["lr"].get<double>());
    }
  }
}

CATCH_TEST_CASE("config errors exit 2 with one line and write nothing", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("bad", 2));
  const auto r = run_mmcl("pretrain --config run.yaml --set optim.lr=abc", dir.path());
  CATCH_CHECK(r.exit_code == 2);
  CATCH_CHECK(r.output == "--set: optim.lr: expected a positive number, got \"abc\"\n");
  CATCH_CHECK(!fs::exists(dir / "runs"));

  write_text(dir / "typo.yaml", "run:\n  name: t\ntrain:\n  step: 5\n");
  const auto t = run_mmcl("pretrain --config typo.yaml", dir.path());
  CATCH_CHECK(t.exit_code == 2);
  CATCH_CHECK(t.output == "typo.yaml:4: train.step: unknown key (did you mean train.steps?; every key: mmcl list --keys)\n");
  CATCH_CHECK(!fs::exists(dir / "runs"));

  const auto missing = run_mmcl("pretrain --config nope.yaml", dir.path());
  CATCH_CHECK(missing.exit_code == 2);
  CATCH_CHECK(missing.output == "nope.yaml: config file not found\n");
}

CATCH_TEST_CASE("the command line: help, version, dump-config, list, usage errors", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("cli", 2));
  CATCH_CHECK(run_mmcl("--version", dir.path()).output.rfind("mmcl ", 0) == 0);
  const auto help = run_mmcl("pretrain --help", dir.path());
  CATCH_CHECK(help.exit_code == 0);
  CATCH_CHECK(help.output.find("--dump-config") != std::string::npos);
  CATCH_CHECK(help.output.find("Example: mmcl pretrain --config fashion-mnist-clip") != std::string::npos);
  // Each evaluation's help names the keys it needs, with an example; none offers --resume.
  const auto zs_help = run_mmcl("zeroshot --help", dir.path());
  CATCH_CHECK(zs_help.exit_code == 0);
  CATCH_CHECK(zs_help.output.find("Needs in the config (or with --set KEY=VALUE): eval.checkpoint (or model.pretrained), "
                                  "eval.data.") != std::string::npos);
  CATCH_CHECK(zs_help.output.find("Example: mmcl zeroshot --config run.yaml --set eval.checkpoint=runs/NAME --set "
                                  "eval.data=test.csv") != std::string::npos);
  CATCH_CHECK(zs_help.output.find("--resume") == std::string::npos);
  CATCH_CHECK(run_mmcl("linear-probe --help", dir.path()).output.find("eval.train=train.csv") != std::string::npos);
  CATCH_CHECK(run_mmcl("", dir.path()).exit_code == 2);
  CATCH_CHECK(run_mmcl("frobnicate", dir.path()).exit_code == 2);
  // A mistyped subcommand is named with the closest one, and nothing runs.
  const auto typo = run_mmcl("pretrian --config run.yaml", dir.path());
  CATCH_CHECK(typo.exit_code == 2);
  CATCH_CHECK(typo.output.rfind("unknown subcommand 'pretrian'; did you mean 'pretrain'?\n", 0) == 0);
  CATCH_CHECK(run_mmcl("zeroshoot", dir.path()).output.find("did you mean 'zeroshot'?") != std::string::npos);
  CATCH_CHECK(run_mmcl("frobnicate", dir.path()).output.find("did you mean") == std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs"));
  CATCH_CHECK(run_mmcl("pretrain", dir.path()).exit_code == 2);  // --config is required

  const auto dump = run_mmcl("pretrain --config run.yaml --dump-config --set data.batch_size=4", dir.path());
  CATCH_CHECK(dump.exit_code == 0);
  CATCH_CHECK(dump.output.find("  batch_size: 4\n") != std::string::npos);
  CATCH_CHECK(dump.output.find("preset: clip-vit-tiny") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs"));
  // The dump is a valid config that resolves to itself.
  write_text(dir / "dumped.yaml", dump.output);
  CATCH_CHECK(run_mmcl("pretrain --config dumped.yaml --dump-config", dir.path()).output == dump.output);

  const auto list = run_mmcl("list", dir.path());
  CATCH_CHECK(list.exit_code == 0);
  for (const char* name : {"clip", "infonce", "siglip", "synthetic", "manifest", "clip-vit-tiny", "ViT-B-32", "ViT-B-16",
                           "ViT-L-14", "RN50", "RN101", "vision ResNet 3-4-6-3 (stem 64w) @ 224px", "simclr-r18",
                           "vision torchvision resnet18 (width 64) @ 224px, SimCLR head 1 hidden -> 128"})
    CATCH_CHECK(list.output.find(name) != std::string::npos);
  CATCH_CHECK(list.output.find("vatt-base       VATT specific: 768w x 12L, video 32 x 224px, audio 153600 samples @ 48000 Hz, "
                               "text 512w x 6L") != std::string::npos);
  // The run configs of configs/runs/, described by their first comment line, readable by name.
  CATCH_CHECK(list.output.find("run configs (configs/runs/; --config NAME)") != std::string::npos);
  CATCH_CHECK(list.output.find("clip-synthetic  Smoke run: clip-vit-tiny on synthetic image-text pairs.\n") != std::string::npos);
  const auto builtin = run_mmcl("pretrain --config clip-synthetic --dump-config", dir.path());
  CATCH_CHECK(builtin.exit_code == 0);
  CATCH_CHECK(builtin.output.find("preset: clip-vit-tiny") != std::string::npos);
  CATCH_CHECK(run_mmcl("pretrain --config clip-synthetik --dump-config", dir.path()).exit_code == 2);
  // Each model's capabilities, as its table entry states them.
  CATCH_CHECK(list.output.find("reads video (2 views); loss ntxent; data video; evaluated on videos") != std::string::npos);
  CATCH_CHECK(list.output.find("reads image, text; loss infonce, siglip; data synthetic, manifest, webdataset; evaluated on "
                               "images; exports to open_clip") != std::string::npos);
}

#include <signal.h>

#include <chrono>
#include <thread>

CATCH_TEST_CASE("SIGTERM stops at a step boundary with a checkpoint, and --resume finishes the run", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml", tiny_run_yaml("stop", 600));
  const pid_t pid = spawn_mmcl("pretrain --config run.yaml", dir.path(), dir / "first.log");
  const fs::path metrics_file = dir / "runs/stop/metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto lines = [&] {
    const std::string text = read_text(metrics_file);
    return std::count(text.begin(), text.end(), '\n');
  };
  while (std::chrono::steady_clock::now() < deadline && lines() < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid, SIGTERM);
  CATCH_CHECK(wait_exit(pid) == 1);
  CATCH_CAPTURE(read_text(dir / "first.log"));
  CATCH_CHECK(read_text(dir / "first.log").find("stopped by signal 15") != std::string::npos);

  const auto stopped = read_json_lines(metrics_file);
  CATCH_REQUIRE(stopped.size() >= 5);
  CATCH_REQUIRE(stopped.size() < 600);
  const int64_t step = stopped.back()["step"];
  CATCH_CHECK(read_text(dir / "runs/stop/checkpoints/latest") == "step_" + std::to_string(step) + ".pt\n");

  const auto resumed = run_mmcl("pretrain --config run.yaml --resume", dir.path());
  CATCH_CAPTURE(resumed.output);
  CATCH_CHECK(resumed.exit_code == 0);
  CATCH_CHECK(resumed.output.find("at step " + std::to_string(step)) != std::string::npos);
  const auto all = read_json_lines(metrics_file);
  CATCH_REQUIRE(all.size() == 600);
  for (size_t i = 0; i < all.size(); ++i) CATCH_CHECK(all[i]["step"] == static_cast<int64_t>(i + 1));
}

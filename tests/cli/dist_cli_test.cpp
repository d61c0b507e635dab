// mmcl pretrain as several processes (torchrun-style variables, Gloo on 127.0.0.1).

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "dist/processes.h"
#include "media/probe.h"
#include "mmcl/config/load.h"
#include "mmcl/models/model.h"
#include "mmcl/io/checkpoint.h"
#include "fixtures.h"

using namespace mmcl;
using test::fs::path;

namespace {

std::string rank_env(int rank, int world, int port) {
  return "OMP_NUM_THREADS=1 RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) +
         " WORLD_SIZE=" + std::to_string(world) + " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
}

std::vector<pid_t> launch(int world, const std::string& args, const path& dir, const std::string& tag,
                          const std::string& extra_env = "") {
  const int port = test::free_port();
  std::vector<pid_t> pids;
  for (int rank = 0; rank < world; ++rank)
    pids.push_back(test::spawn_process(MMCL_BINARY, args, extra_env + " " + rank_env(rank, world, port), dir,
                                       dir / (tag + std::to_string(rank) + ".log")));
  return pids;
}

// Waits for every process; their exit codes (-2: killed at the deadline).
std::vector<int> wait_all(const std::vector<pid_t>& pids, double seconds) {
  std::vector<int> codes;
  for (pid_t pid : pids) {
    const auto status = test::wait_exit_for(pid, seconds);
    if (!status) test::kill_and_reap(pid);
    codes.push_back(status.value_or(-2));
  }
  return codes;
}

std::vector<at::Tensor> checkpoint_parameters(const path& file) {
  const io::CheckpointMeta meta = io::checkpoint_meta(file);
  const config::RunConfig cfg = config::load_resolved_config(meta.config_yaml, file.string());
  models::ModelPtr model = models::make_model(cfg.model);
  io::load_checkpoint(file, *model, nullptr);
  return model->parameters();
}

int64_t count_lines(const path& file) {
  const std::string text = test::read_text(file);
  return static_cast<int64_t>(std::count(text.begin(), text.end(), '\n'));
}

std::vector<double> losses_of(const path& metrics) {
  std::vector<double> out;
  std::istringstream in(test::read_text(metrics));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  return out;
}

// Polls until `file` has `lines` lines; false after `seconds`.
bool wait_for_lines(const path& file, int64_t lines, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (test::fs::exists(file, ec) && count_lines(file) >= lines) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

CATCH_TEST_CASE("pretrain on 2 ranks x batch 4 ends with the checkpoint of 1 rank x batch 8, rank 0 alone writes",
                "[cli][dist]") {
  test::TempDir dir;
  test::write_text(dir / "run.yaml", test::tiny_run_yaml("one", 6));
  // Adam's epsilon at 1e-3: the attention key biases have a zero gradient in exact arithmetic (a
  // constant added to every key of a query cancels in the softmax), and with a tiny epsilon Adam turns
  // their rounding noise (~1e-10) into steps of +-lr whose signs differ between any two summation
  // orders. A larger epsilon leaves those at ~1e-7 lr, so the comparison sees the algorithm.
  const std::string eps = " --set optim.eps=1e-3";
  const test::CommandResult one = test::run_mmcl("pretrain -c run.yaml" + eps, dir.path());
  CATCH_INFO(one.output);
  CATCH_REQUIRE(one.exit_code == 0);

  const auto codes = wait_all(launch(2, "pretrain -c run.yaml --set run.name=two --set data.batch_size=4" + eps, dir.path(),
                                     "two"),
                              120);
  CATCH_INFO(test::read_text(dir / "two0.log") + test::read_text(dir / "two1.log"));
  CATCH_REQUIRE(codes == std::vector<int>{0, 0});

  const auto a = checkpoint_parameters(dir / "runs/one/checkpoints/step_6.pt");
  const auto b = checkpoint_parameters(dir / "runs/two/checkpoints/step_6.pt");
  CATCH_REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  CATCH_INFO("max |difference| " << worst);
  CATCH_CHECK(worst < 1e-6);
  // The logged losses agree step by step (the 2-rank figure is the mean over ranks of the global loss).
  const auto l1 = losses_of(dir / "runs/one/metrics.jsonl"), l2 = losses_of(dir / "runs/two/metrics.jsonl");
  CATCH_REQUIRE(l1.size() == 6);
  CATCH_REQUIRE(l2.size() == 6);  // one writer: rank 0
  for (size_t i = 0; i < l1.size(); ++i) CATCH_CHECK(std::abs(l1[i] - l2[i]) < 1e-5);
  CATCH_CHECK(l1.back() < l1.front());
  const std::string log = test::read_text(dir / "runs/two/train.log");
  CATCH_CHECK(log.find("[rank 0]") != std::string::npos);
  CATCH_CHECK(log.find("[rank 1]") == std::string::npos);
  CATCH_CHECK(log.find("batch 4 x 1 accum x 2 processes") != std::string::npos);
  // Rank 1 logs warnings only.
  CATCH_CHECK(test::read_text(dir / "two1.log").find("[info]") == std::string::npos);
}

CATCH_TEST_CASE("a killed rank or a rendezvous that never completes ends the other processes with an error",
                "[cli][dist]") {
  test::TempDir dir;
  test::write_text(dir / "run.yaml", test::tiny_run_yaml("long", 100000));

  CATCH_SECTION("rank 1 killed mid-run: rank 0 exits with the error long before dist.timeout_s") {
    const auto pids = launch(2, "pretrain -c run.yaml --set dist.timeout_s=60", dir.path(), "kill");
    const bool running = wait_for_lines(dir / "runs/long/metrics.jsonl", 3, 60);
    ::kill(pids[1], SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    const auto code = test::wait_exit_for(pids[0], 30);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!code) test::kill_and_reap(pids[0]);
    ::waitpid(pids[1], nullptr, 0);
    const std::string log = test::read_text(dir / "kill0.log");
    CATCH_INFO(log);
    CATCH_REQUIRE(running);
    CATCH_CHECK(code == 1);
    CATCH_CHECK(took < 30);
    CATCH_CHECK(log.find("a peer process ended or did not answer") != std::string::npos);
  }
  CATCH_SECTION("only rank 0 of 2 started: it gives up after the rendezvous timeout and writes nothing") {
    const int port = test::free_port();
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = test::spawn_process(MMCL_BINARY, "pretrain -c run.yaml --set dist.timeout_s=2", rank_env(0, 2, port),
                                          dir.path(), dir / "alone.log");
    const auto code = test::wait_exit_for(pid, 60);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!code) test::kill_and_reap(pid);
    const std::string log = test::read_text(dir / "alone.log");
    CATCH_INFO(log);
    CATCH_CHECK(code == 1);
    CATCH_CHECK(took < 20);
    CATCH_CHECK(log.find("rendezvous at 127.0.0.1:" + std::to_string(port) + " failed on rank 0 of 2") !=
                std::string::npos);
    CATCH_CHECK(!test::fs::exists(dir / "runs/long"));
  }
  CATCH_SECTION("rank 1 of 2 with no rank 0: the same, from the client side") {
    const pid_t pid = test::spawn_process(MMCL_BINARY, "pretrain -c run.yaml --set dist.timeout_s=2",
                                          rank_env(1, 2, test::free_port()), dir.path(), dir / "client.log");
    const auto code = test::wait_exit_for(pid, 60);
    if (!code) test::kill_and_reap(pid);
    const std::string log = test::read_text(dir / "client.log");
    CATCH_INFO(log);
    CATCH_CHECK(code == 1);
    CATCH_CHECK(log.find("failed on rank 1 of 2") != std::string::npos);
    CATCH_CHECK(!test::fs::exists(dir / "runs/long"));
  }
}

CATCH_TEST_CASE("SIGUSR1 to one rank: every rank stops after the same step, rank 0 checkpoints, the job requeues "
                "itself and its next start resumes",
                "[cli][dist]") {
  test::TempDir dir;
  test::write_text(dir / "run.yaml", test::tiny_run_yaml("job", 100000));
  // A stand-in for SLURM's scontrol that records how it was called.
  test::fs::create_directories(dir / "bin");
  test::write_text(dir / "bin/scontrol", "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/../scontrol.calls\"\n");
  test::fs::permissions(dir / "bin/scontrol", test::fs::perms::owner_all);
  const std::string slurm = "PATH=\"$PWD/bin:$PATH\" SLURM_JOB_ID=4242";

  const auto pids = launch(2, "pretrain -c run.yaml", dir.path(), "first", slurm);
  const bool running = wait_for_lines(dir / "runs/job/metrics.jsonl", 3, 60);
  ::kill(pids[1], SIGUSR1);
  const auto codes = wait_all(pids, 60);
  CATCH_INFO(test::read_text(dir / "first0.log") + test::read_text(dir / "first1.log"));
  CATCH_REQUIRE(running);
  CATCH_CHECK(codes == std::vector<int>{1, 1});
  const std::string log0 = test::read_text(dir / "first0.log");
  CATCH_CHECK(log0.find("stopped by signal 10") != std::string::npos);
  CATCH_CHECK(test::read_text(dir / "scontrol.calls") == "requeue 4242\n");
  const io::CheckpointDir checkpoints(dir / "runs/job/checkpoints");
  CATCH_REQUIRE(checkpoints.latest().has_value());
  const std::string saved = checkpoints.latest()->filename().string();  // step_<N>.pt
  const int64_t step = std::stoll(saved.substr(5, saved.size() - 8));
  CATCH_CHECK(step >= 3);
  CATCH_CHECK(count_lines(dir / "runs/job/metrics.jsonl") == step);

  // SLURM starts the requeued job with SLURM_RESTART_COUNT=1 and the same command line.
  const auto again = wait_all(launch(2, "pretrain -c run.yaml --set train.stop_after=2", dir.path(), "again",
                                     slurm + " SLURM_RESTART_COUNT=1"),
                              60);
  const std::string log = test::read_text(dir / "again0.log");
  CATCH_INFO(log + test::read_text(dir / "again1.log"));
  CATCH_CHECK(again == std::vector<int>{0, 0});
  CATCH_CHECK(log.find("resumed from runs/job/checkpoints/" + saved + " at step " + std::to_string(step)) !=
              std::string::npos);
  CATCH_CHECK(checkpoints.latest()->filename() == "step_" + std::to_string(step + 2) + ".pt");
}

CATCH_TEST_CASE("the SLURM templates train on the CPU under stand-ins for srun and scontrol", "[cli][dist]") {
  test::TempDir dir;
  test::write_text(dir / "run.yaml", test::tiny_run_yaml("unused", 4));
  test::fs::create_directories(dir / "bin");
  // srun starts SLURM_NTASKS copies of the command with their task ids, as on one node.
  test::write_text(dir / "bin/srun",
                   "#!/bin/bash\nshift  # --kill-on-bad-exit=1\npids=()\n"
                   "for ((i = 0; i < SLURM_NTASKS; i++)); do SLURM_PROCID=$i SLURM_LOCALID=$i \"$@\" > task$i.log 2>&1 & "
                   "pids+=($!); done\nstatus=0\nfor p in \"${pids[@]}\"; do wait $p || status=1; done\nexit $status\n");
  test::write_text(dir / "bin/scontrol", "#!/bin/sh\n[ \"$1\" = show ] && echo 127.0.0.1\n");
  for (const char* tool : {"bin/srun", "bin/scontrol"}) test::fs::permissions(dir / tool, test::fs::perms::owner_all);
  const std::string env = "PATH=\"$PWD/bin:$PATH\" MMCL='" MMCL_BINARY "' MMCL_DEVICE=cpu SLURM_JOB_ID=77 "
                          "SLURM_JOB_NAME=tpl SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=1 SLURM_JOB_NODELIST=127.0.0.1 "
                          "MASTER_PORT=" + std::to_string(test::free_port());
  for (const std::string name : {"one-node", "multi-node"}) {
    CATCH_DYNAMIC_SECTION(name) {
      const pid_t pid = test::spawn_process("/bin/bash", "'" MMCL_SOURCE_DIR "/configs/slurm/" + name + ".sbatch' run.yaml",
                                            env, dir.path(), dir / "job.log");
      const auto code = test::wait_exit_for(pid, 120);
      if (!code) test::kill_and_reap(pid);
      CATCH_INFO(test::read_text(dir / "job.log") + test::read_text(dir / "task0.log") + test::read_text(dir / "task1.log"));
      CATCH_CHECK(code == 0);
      CATCH_CHECK(test::fs::exists(dir / "runs/tpl-77/checkpoints/step_4.pt"));
      const std::string log = test::read_text(dir / "task0.log");
      CATCH_CHECK(log.find("rank 0 of 2 (local rank 0, from slurm): rendezvous at 127.0.0.1:") != std::string::npos);
    }
  }
}

CATCH_TEST_CASE("finetune on 2 ranks x batch 4 gives the head and results of 1 rank x batch 8", "[cli][dist]") {
  test::TempDir dir;
  test::write_colour_squares(dir.path());
  test::write_text(dir / "run.yaml",
                   "run: {name: colours, seed: 1}\n"
                   "runtime: {device: cpu, threads: 1}\n"
                   "model: {preset: " + test::fixture_path("models/tiny-clip-16.yaml") + "}\n"
                   "data: {type: manifest, train: train.csv, batch_size: 8, workers: 2}\n"
                   "tokenizer: {name: words}\n"
                   "optim: {lr: 0.01, warmup_steps: 0}\n"
                   "train: {steps: 4, log_every: 1}\n"
                   "eval: {checkpoint: runs/colours, train: test.csv, data: test.csv}\n"
                   "finetune: {mode: linear}\n");
  const auto pre = test::run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_INFO(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);

  // test.csv: 9 rows, one unreadable and replaced -> one batch of 8 per epoch.
  const std::string ft = "finetune --config run.yaml --set train.steps=0 --set train.epochs=3";
  const auto one = test::run_mmcl(ft + " --set run.name=ft1", dir.path());
  CATCH_INFO(one.output);
  CATCH_REQUIRE(one.exit_code == 0);
  const auto codes = wait_all(launch(2, ft + " --set run.name=ft2 --set data.batch_size=4", dir.path(), "ft"), 120);
  CATCH_INFO(test::read_text(dir / "ft0.log") + test::read_text(dir / "ft1.log"));
  CATCH_REQUIRE(codes == std::vector<int>{0, 0});

  const auto r1 = nlohmann::json::parse(test::read_text(dir / "runs/ft1/results.json"));
  const auto r2 = nlohmann::json::parse(test::read_text(dir / "runs/ft2/results.json"));
  CATCH_CHECK(r2["steps"] == 3);
  CATCH_CHECK(r1["epoch_top1"] == r2["epoch_top1"]);
  CATCH_CHECK(r1["top1"] == r2["top1"]);
  CATCH_CHECK(test::read_text(dir / "ft0.log").find("fine-tuned (linear) for 3 steps") != std::string::npos);
  CATCH_CHECK(test::read_text(dir / "ft1.log").find("fine-tuned") == std::string::npos);  // rank 0 reports
  const auto a = losses_of(dir / "runs/ft1/metrics.jsonl"), b = losses_of(dir / "runs/ft2/metrics.jsonl");
  CATCH_REQUIRE(a.size() == 3);
  CATCH_REQUIRE(b.size() == 3);
  for (size_t i = 0; i < a.size(); ++i) CATCH_CHECK(std::abs(a[i] - b[i]) < 1e-5);
}

CATCH_TEST_CASE("streamed shards on 2 ranks: uneven shards end every rank at the same step, and a resumed run "
                "continues each stream where it stopped",
                "[cli][dist]") {
  test::TempDir dir;
  test::write_colour_squares(dir.path());
  // 5 shards of 8, 8, 6, 6 and 4 samples for 2 ranks x 2 workers: some streams run out of their shards
  // before the epoch's end and read them again.
  const std::vector<int> sizes = {8, 8, 6, 6, 4};
  int next = 0;
  test::fs::create_directories(dir / "shards");
  for (size_t s = 0; s < sizes.size(); ++s) {
    std::string names;
    for (int i = 0; i < sizes[s]; ++i, ++next) {
      const std::string key = "train" + std::to_string(next);
      test::write_text(dir / "img" / (key + ".txt"), next % 2 ? "a blue square" : "a red square");
      names += " " + key + ".png " + key + ".txt";
    }
    const std::string tar = "tar -cf " + (dir / "shards" / ("s" + std::to_string(s) + ".tar")).string() + " -C " +
                            (dir / "img").string() + names;
    CATCH_REQUIRE(std::system(tar.c_str()) == 0);
  }
  test::write_text(dir / "run.yaml",
                   "run: {name: whole, seed: 2}\n"
                   "runtime: {device: cpu, threads: 1}\n"
                   "model: {preset: " + test::fixture_path("models/tiny-clip-16.yaml") + "}\n"
                   "data: {type: webdataset, train: 'shards/s{0..4}.tar', shuffle_buffer: 6, batch_size: 4, workers: 2}\n"
                   "tokenizer: {name: words}\n"
                   "optim: {lr: 0.002, warmup_steps: 2, eps: 1e-3}\n"
                   "train: {steps: 10, log_every: 1}\n");
  auto run = [&](const std::string& args, const std::string& tag) {
    const auto codes = wait_all(launch(2, "pretrain -c run.yaml " + args, dir.path(), tag), 120);
    CATCH_INFO(test::read_text(dir / (tag + "0.log")) + test::read_text(dir / (tag + "1.log")));
    CATCH_REQUIRE(codes == std::vector<int>{0, 0});
  };
  run("", "whole");  // 32 samples = 4 steps an epoch of 2 x 4: 10 steps cross two epoch ends
  run("--set run.name=split --set train.stop_after=5", "part");
  run("--set run.name=split --resume", "rest");
  const std::string log = test::read_text(dir / "runs/split/train.log");
  CATCH_CHECK(log.find("resumed from") != std::string::npos);
  CATCH_CHECK(log.find("estimate") == std::string::npos);
  const auto a = losses_of(dir / "runs/whole/metrics.jsonl"), b = losses_of(dir / "runs/split/metrics.jsonl");
  CATCH_REQUIRE(a.size() == 10);
  CATCH_REQUIRE(b.size() == 10);
  for (size_t i = 0; i < a.size(); ++i) CATCH_CHECK(b[i] == a[i]);
  // The checkpoint holds every rank's stream positions: 2 ranks x 2 streams, 1 batch of 4 each into epoch 1.
  const io::CheckpointInfo info = io::load_checkpoint(
      dir / "runs/split/checkpoints/step_5.pt", *models::make_model(config::load_resolved_config(
                                                    io::checkpoint_meta(dir / "runs/split/checkpoints/step_5.pt").config_yaml,
                                                    "step_5.pt").model),
      nullptr);
  CATCH_CHECK(info.state.data_positions == std::vector<std::vector<int64_t>>{{4, 0}, {4, 0}});
}

CATCH_TEST_CASE("CVRL on 2 ranks x batch 3 with dist.sync_bn ends with the checkpoint of 1 rank x batch 6",
                "[cli][dist][video]") {
  if (!test::have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed; synchronised BatchNorm across processes not checked");
    return;
  }
  test::TempDir dir;
  std::string manifest = "filepath\n";
  for (int i = 0; i < 6; ++i) {  // a white square moving across black, a different path each
    const std::string name = "v" + std::to_string(i) + ".mp4";
    test::command_output("ffmpeg -v error -f lavfi -i color=black:s=48x48:r=12:d=2 -f lavfi -i color=white:s=10x10:r=12:d=2 "
                         "-filter_complex \"[0][1]overlay=x='2+t*" + std::to_string(5 + 3 * i) + "':y=" +
                         std::to_string(4 + 6 * i) + ":shortest=1\" -c:v libx264 -pix_fmt yuv420p -g 6 '" +
                         (dir / name).string() + "'");
    manifest += name + "\n";
  }
  test::write_text(dir / "train.csv", manifest);
  test::write_text(dir / "run.yaml",
                   "run: {name: one, seed: 5}\n"
                   "runtime: {device: cpu, threads: 1}\n"
                   "model:\n  name: cvrl\n  video: {backbone: r3d18, width: 4, frames: 4, size: 32}\n"
                   "  cvrl: {hidden: 16, dim: 8, hidden_layers: 2}\n"
                   "loss: {name: ntxent, temperature: 0.1}\n"
                   "data: {type: video, train: train.csv, batch_size: 6, workers: 1, video: {stride: 2}}\n"
                   "optim: {lr: 0.001, warmup_steps: 0, weight_decay: 0.0, eps: 1.0e-3}\n"
                   "dist: {sync_bn: true}\n"
                   "train: {steps: 3, log_every: 1}\n");
  const test::CommandResult one = test::run_mmcl("pretrain -c run.yaml", dir.path());
  CATCH_INFO(one.output);
  CATCH_REQUIRE(one.exit_code == 0);
  auto two = [&](const std::string& name, bool sync) {
    const auto codes = wait_all(launch(2, "pretrain -c run.yaml --set run.name=" + name + " --set data.batch_size=3" +
                                              " --set dist.sync_bn=" + (sync ? "true" : "false"),
                                          dir.path(), name),
                                180);
    CATCH_INFO(test::read_text(dir / (name + "0.log")) + test::read_text(dir / (name + "1.log")));
    CATCH_REQUIRE(codes == std::vector<int>{0, 0});
  };
  two("sync", true);
  two("local", false);
  const auto a = losses_of(dir / "runs/one/metrics.jsonl"), b = losses_of(dir / "runs/sync/metrics.jsonl"),
             c = losses_of(dir / "runs/local/metrics.jsonl");
  CATCH_REQUIRE(a.size() == 3);
  CATCH_REQUIRE(b.size() == 3);
  CATCH_REQUIRE(c.size() == 3);
  // Synchronised: every BatchNorm sees the 6 clips' statistics on both ranks, as one process does.
  for (size_t i = 0; i < a.size(); ++i) CATCH_CHECK(std::abs(a[i] - b[i]) < 1e-4);
  const auto pa = checkpoint_parameters(dir / "runs/one/checkpoints/step_3.pt");
  const auto pb = checkpoint_parameters(dir / "runs/sync/checkpoints/step_3.pt");
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) worst = std::max(worst, (pa[i] - pb[i]).abs().max().item<double>());
  CATCH_INFO("max |difference| " << worst);
  CATCH_CHECK(worst < 1e-4);
  // Per process: each rank normalises by its own 3 clips, and the first loss already differs.
  CATCH_CHECK(std::abs(a[0] - c[0]) > 1e-3);
}

CATCH_TEST_CASE("SigLIP on 2 ranks x batch 4 ends with the checkpoint of 1 rank x batch 8, gathered or local rows",
                "[cli][dist]") {
  test::TempDir dir;
  test::write_text(dir / "run.yaml", test::tiny_run_yaml("one", 4));
  const std::string siglip = " --set optim.eps=1e-3 --set loss.name=siglip --set model.logit_bias=true "
                             "--set model.init_logit_scale=2.302585 --set model.init_logit_bias=-10";
  const test::CommandResult one = test::run_mmcl("pretrain -c run.yaml" + siglip, dir.path());
  CATCH_INFO(one.output);
  CATCH_REQUIRE(one.exit_code == 0);
  const auto a = checkpoint_parameters(dir / "runs/one/checkpoints/step_4.pt");
  for (const std::string mode : {"", " --set loss.local_loss=true --set loss.gather_with_grad=true"}) {
    CATCH_INFO("mode" << mode);
    const std::string name = mode.empty() ? "two" : "local";
    const auto codes = wait_all(
        launch(2, "pretrain -c run.yaml --set run.name=" + name + " --set data.batch_size=4" + siglip + mode, dir.path(), name),
        120);
    CATCH_INFO(test::read_text(dir / (name + "0.log")) + test::read_text(dir / (name + "1.log")));
    CATCH_REQUIRE(codes == std::vector<int>{0, 0});
    const auto b = checkpoint_parameters(dir / ("runs/" + name + "/checkpoints/step_4.pt"));
    CATCH_REQUIRE(a.size() == b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
    CATCH_INFO("max |difference| " << worst);
    CATCH_CHECK(worst < 1e-6);
    const auto l1 = losses_of(dir / "runs/one/metrics.jsonl"), l2 = losses_of(dir / ("runs/" + name + "/metrics.jsonl"));
    CATCH_REQUIRE(l1.size() == l2.size());
    for (size_t i = 0; i < l1.size(); ++i) CATCH_CHECK(std::abs(l1[i] - l2[i]) < 1e-5);
  }
}

// CVRL from YAML end to end on real MP4 files (a white square moving left or right, made with the
// ffmpeg tool): pretrain, then a linear probe and fine-tuning on the motion direction from the
// checkpoint.

#include <nlohmann/json.hpp>

#include "media/probe.h"
#include "run_results.h"
#include "util.h"

using namespace mmcl::test;

namespace {

// n videos per direction, 3 s at 12 fps, 48 x 48; manifest.csv: filepath,label.
void write_moving_squares(const fs::path& dir, int n) {
  fs::create_directories(dir / "clips");
  std::string manifest = "filepath,label\n";
  for (int i = 0; i < 2 * n; ++i) {
    const bool right = i % 2 == 0;
    const int y = 4 + (i / 2) * 30 / n;
    const std::string x = right ? "2+t*9" : "36-t*9";
    const std::string name = "clips/" + std::to_string(i) + ".mp4";
    command_output("ffmpeg -v error -f lavfi -i color=black:s=48x48:r=12:d=3 -f lavfi -i color=white:s=10x10:r=12:d=3 "
                   "-filter_complex \"[0][1]overlay=x='" + x + "':y=" + std::to_string(y) +
                   ":shortest=1\" -c:v libx264 -pix_fmt yuv420p -g 6 '" + (dir / name).string() + "'");
    manifest += name + "," + (right ? "right" : "left") + "\n";
  }
  write_text(dir / "manifest.csv", manifest);
}

}  // namespace

CATCH_TEST_CASE("CVRL pretrains on video files from YAML and is evaluated by a linear probe", "[cli][video]") {
  if (!have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed (apt-get install ffmpeg); CVRL end to end not checked");
    return;
  }
  TempDir dir;
  write_moving_squares(dir.path(), 6);
  write_text(dir / "run.yaml",
             "run: {name: cvrl, seed: 0}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model:\n  name: cvrl\n  video: {backbone: r3d18, width: 4, frames: 4, size: 32}\n"
             "  cvrl: {hidden: 64, dim: 16}\n"
             "loss: {name: ntxent, temperature: 0.1}\n"
             "data:\n  type: video\n  train: manifest.csv\n  batch_size: 6\n  workers: 2\n"
             "  video: {stride: 3, interval: decreasing}\n"
             "optim: {lr: 0.003, warmup_steps: 2, weight_decay: 0.0}\n"
             "train: {steps: 12, log_every: 1}\n"
             "eval: {train: manifest.csv, data: manifest.csv, label_key: label}\n");
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_INFO(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("model cvrl") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/cvrl/checkpoints/step_12.pt"));
  const std::string metrics = read_text(dir / "runs/cvrl/metrics.jsonl");
  CATCH_CHECK(metrics.find("\"data/skipped\":0") != std::string::npos);

  const auto probe = run_for_results("linear-probe --config run.yaml --set run.name=lp --set eval.checkpoint=runs/cvrl",
                                     dir.path(), "lp");
  CATCH_CHECK(probe["samples"] == 12);
  CATCH_CHECK(probe["top1"].get<double>() >= 0.0);
  CATCH_CHECK(probe["top1"].get<double>() <= 1.0);

  // Fine-tuning the whole R3D on the direction (no flips: a flip would swap the labels) separates the
  // two motions of the training clips (by about epoch 14 of 30 here; evaluation uses BatchNorm's running
  // statistics, which lag behind training).
  constexpr int kEpochs = 30;
  const auto tuned = run_for_results(
      "finetune --config run.yaml --set run.name=ft --set eval.checkpoint=runs/cvrl --set finetune.mode=full "
      "--set data.video.spatial=false --set train.steps=0 --set optim.lr=0.1 "
      "--set data.batch_size=4 --set train.epochs=" + std::to_string(kEpochs),
      dir.path(), "ft");
  CATCH_INFO(tuned.dump());
  CATCH_CHECK(tuned["samples"] == 12);
  CATCH_CHECK(tuned["epoch_top1"].size() == kEpochs);
  CATCH_CHECK(tuned["top1"].get<double>() >= 0.9);
  CATCH_CHECK(fs::exists(dir / "runs/ft/summary.txt"));
  CATCH_CHECK(read_text(dir / "runs/ft/summary.txt").find("on 12 videos") != std::string::npos);

  // A mismatched loss is refused before anything is written.
  const auto bad = run_mmcl("pretrain --config run.yaml --set run.name=bad --set loss.name=infonce", dir.path());
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output.find("loss.name") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/bad"));
}

CATCH_TEST_CASE("the cvrl-r3d50-k400 recipe trains end to end (R3D-50, LARS, CVRL's augmentation), scaled down",
                "[cli][video]") {
  if (!have_ffmpeg_tools()) {
    CATCH_WARN("SKIPPED: the ffmpeg tool is not installed (apt-get install ffmpeg); the CVRL recipe not checked");
    return;
  }
  TempDir dir;
  write_moving_squares(dir.path(), 4);
  // The recipe as shipped, with the model, clips and batch shrunk to run on 2 cores in seconds.
  const auto r = run_mmcl("pretrain --config " MMCL_SOURCE_DIR "/configs/runs/cvrl-r3d50-k400.yaml --set run.name=recipe "
                          "--set runtime.device=cpu --set data.train=manifest.csv --set data.batch_size=4 "
                          "--set data.workers=1 --set model.video.width=4 --set model.video.frames=4 "
                          "--set model.video.size=32 --set model.cvrl.hidden=32 --set model.cvrl.dim=8 "
                          "--set data.video.stride=3 --set data.video.decode_size=48 --set train.steps=3 "
                          "--set optim.warmup_steps=1 --set train.log_every=1",
                          dir.path());
  CATCH_INFO(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.output.find("model cvrl") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/recipe/checkpoints/step_3.pt"));
  const std::string config = read_text(dir / "runs/recipe/config.yaml");
  for (const char* setting : {"name: lars", "backbone: r3d50", "hidden_layers: 3", "blur_prob_view2: 0.1",
                              "solarize_prob_view2: 0.2", "jitter_random_order: true"})
    CATCH_CHECK(config.find(setting) != std::string::npos);
}

// SimCLR from YAML end to end on real image files: pretraining on an unlabelled folder of stripe
// images (two augmented views each, one corrupt file skipped and counted), then a linear probe and
// fine-tuning on the stripes' orientation from the checkpoint; config errors name their key.

#include <random>

#include <nlohmann/json.hpp>
#include <stb_image_write.h>

#include "run_results.h"
#include "util.h"

using namespace mmcl::test;

namespace {

// A 16 x 16 image of stripes 2 px wide, horizontal or vertical, random phase and colours.
void write_stripes(const fs::path& path, bool horizontal, std::mt19937& rng) {
  std::vector<unsigned char> px(16 * 16 * 3);
  unsigned char a[3], b[3];
  for (int c = 0; c < 3; ++c) a[c] = static_cast<unsigned char>(rng() % 100), b[c] = static_cast<unsigned char>(155 + rng() % 100);
  const int phase = static_cast<int>(rng() % 4);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c)
        px[static_cast<size_t>((y * 16 + x) * 3 + c)] = (((horizontal ? y : x) + phase) / 2) % 2 ? a[c] : b[c];
  fs::create_directories(path.parent_path());
  stbi_write_png(path.c_str(), 16, 16, 3, px.data(), 16 * 3);
}

}  // namespace

CATCH_TEST_CASE("SimCLR pretrains on an image folder from YAML and is evaluated by a linear probe and fine-tuning",
                "[cli]") {
  TempDir dir;
  std::mt19937 rng(3);
  for (int i = 0; i < 16; ++i) write_stripes(dir / ("train/" + std::to_string(i) + ".png"), i % 2 == 0, rng);
  write_text(dir / "train/corrupt.png", "not an image");
  for (int i = 0; i < 8; ++i)
    write_stripes(dir / (std::string(i % 2 ? "labelled/horizontal/" : "labelled/vertical/") + std::to_string(i) + ".png"),
                  i % 2 == 1, rng);
  write_text(dir / "run.yaml",
             "run: {name: simclr, seed: 0}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model:\n  name: simclr\n  vision: {tower: resnet18, width: 4, image_size: 16, small_stem: true}\n"
             "  simclr: {dim: 16}\n"
             "loss: {name: ntxent, temperature: 0.2}\n"
             "data:\n  type: manifest\n  train: train\n  batch_size: 8\n  workers: 2\n"
             "  image: {scale: [0.5, 1.0], flip: true, jitter_prob: 0.8, grayscale_prob: 0.2, blur_prob: 0.5}\n"
             "optim: {lr: 0.003, warmup_steps: 2, weight_decay: 0.0}\n"
             "train: {steps: 6, log_every: 1}\n"
             "eval: {train: labelled, data: labelled}\n");
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_INFO(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("model simclr") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/simclr/checkpoints/step_6.pt"));
  const std::string metrics = read_text(dir / "runs/simclr/metrics.jsonl");
  CATCH_CHECK(metrics.find("\"data/skipped\":0") == std::string::npos);  // the corrupt file was met
  CATCH_CHECK(pre.output.find("corrupt.png") != std::string::npos);

  const auto probe = run_for_results("linear-probe --config run.yaml --set run.name=lp --set eval.checkpoint=runs/simclr",
                                     dir.path(), "lp");
  CATCH_CHECK(probe["samples"] == 8);
  CATCH_CHECK(probe["top1"].get<double>() >= 0.0);

  // Fine-tuning the whole network separates the orientations (flips keep them).
  const auto tuned = run_for_results(
      "finetune --config run.yaml --set run.name=ft --set eval.checkpoint=runs/simclr --set finetune.mode=full "
      "--set train.steps=0 --set optim.lr=0.05 --set data.batch_size=4 --set train.epochs=20",
      dir.path(), "ft");
  CATCH_INFO(tuned.dump());
  CATCH_CHECK(tuned["samples"] == 8);
  CATCH_CHECK(tuned["top1"].get<double>() >= 0.9);
}

CATCH_TEST_CASE("SimCLR config errors name the key and write nothing", "[cli]") {
  TempDir dir;
  write_text(dir / "run.yaml",
             "run: {name: bad}\n"
             "model: {name: simclr, vision: {tower: resnet18, width: 4, image_size: 32}}\n"
             "loss: {name: ntxent}\n"
             "data: {type: manifest, train: train.csv}\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--set data.views=1", "data.views"},
      {"--set model.vision.tower=resnet", "model.vision.tower"},
      {"--set model.name=clip --set loss.name=infonce", "model.vision.tower"},
      {"--set loss.name=infonce", "loss.name"},
      {"--set data.image.blur_sigma=[0,1]", "data.image.blur_sigma"},
      {"--set data.image.jitter=[0.4,0.4,0.4,0.7]", "data.image.jitter"},
  };
  for (const auto& [set, key] : cases) {
    const auto r = run_mmcl("pretrain --config run.yaml " + set, dir.path());
    CATCH_INFO(set << "\n" << r.output);
    CATCH_CHECK(r.exit_code == 2);
    CATCH_CHECK(r.output.find(key) != std::string::npos);
  }
  CATCH_CHECK_FALSE(fs::exists(dir / "runs"));
}

// open_clip's weights through the command line: zeroshot and embed with model.pretrained (no
// checkpoint), and pretraining that starts from them.
#include <random>

#include <nlohmann/json.hpp>
#include <stb_image_write.h>

#include "util.h"

using namespace mmcl::test;

CATCH_TEST_CASE("model.pretrained: zeroshot, embed and pretrain from open_clip weights and config", "[cli]") {
  const auto shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; model.pretrained end to end not checked");
    return;
  }
  TempDir dir;
  std::mt19937 rng(2);
  std::string labelled = "filepath,label\n", captions = "filepath,title\n";
  for (int i = 0; i < 4; ++i) {
    std::vector<unsigned char> px(64 * 64 * 3);
    for (size_t p = 0; p < px.size(); ++p) px[p] = static_cast<unsigned char>(rng() % 256);
    const std::string name = "img" + std::to_string(i) + ".png";
    stbi_write_png((dir / name).c_str(), 64, 64, 3, px.data(), 64 * 3);
    labelled += name + (i % 2 ? ",noise\n" : ",static\n");
    captions += name + ",a photo of noise\n";
  }
  write_text(dir / "labelled.csv", labelled);
  write_text(dir / "captions.csv", captions);
  const auto fixture = shared / "fixtures" / "openclip_vit_tiny";
  write_text(dir / "run.yaml",
             "run: {name: zs, seed: 0}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model:\n  preset: " + (fixture / "model_config.json").string() + "\n"
             "  pretrained: " + (fixture / "open_clip_weights.pt").string() + "\n"
             "data: {type: manifest, train: captions.csv, batch_size: 2, workers: 0}\n"
             "tokenizer: {vocab: " + (shared / "clip" / "bpe_simple_vocab_16e6.txt.gz").string() + "}\n"
             "train: {steps: 2, log_every: 1}\n"
             "eval: {data: labelled.csv, batch_size: 2}\n");

  const auto zs = run_mmcl("zeroshot --config run.yaml", dir.path());
  CATCH_CAPTURE(zs.output);
  CATCH_REQUIRE(zs.exit_code == 0);
  CATCH_CHECK(zs.output.find("tensors loaded") != std::string::npos);
  const auto z = nlohmann::json::parse(read_text(dir / "runs/zs/results.json"));
  CATCH_CHECK(z["samples"] == 4);
  CATCH_CHECK(z["checkpoint"] == (fixture / "open_clip_weights.pt").string());

  const auto em = run_mmcl("embed --config run.yaml --set run.name=em --set eval.data=captions.csv", dir.path());
  CATCH_CAPTURE(em.output);
  CATCH_REQUIRE(em.exit_code == 0);
  const auto e = nlohmann::json::parse(read_text(dir / "runs/em/results.json"));
  CATCH_CHECK(e["rows"] == 4);
  CATCH_CHECK(e["captions"] == 4);
  CATCH_CHECK(e["dim"] == 64);

  const auto pre = run_mmcl("pretrain --config run.yaml --set run.name=ft", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("pretrained weights") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/ft/checkpoints/step_2.pt"));

  // A weights file that is not there is a config error naming the key.
  const auto missing = run_mmcl("zeroshot --config run.yaml --set run.name=m --set model.pretrained=nope.bin", dir.path());
  CATCH_CHECK(missing.exit_code == 2);
  CATCH_CHECK(missing.output == "--set: model.pretrained: file not found: \"nope.bin\"\n");
}

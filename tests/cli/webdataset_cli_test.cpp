// pretrain from webdataset shards written by GNU tar, and the config errors a shard pattern can give.
#include <cstdlib>
#include <random>

#include <stb_image_write.h>

#include "util.h"

using namespace mmcl::test;

CATCH_TEST_CASE("pretrain streams webdataset shards made by tar (words vocabulary learned from them)", "[cli]") {
  TempDir dir;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> noise(-20, 20);
  const char* colours[] = {"red", "blue"};
  for (int shard = 0; shard < 2; ++shard) {
    const fs::path src = dir / ("src" + std::to_string(shard));
    fs::create_directories(src);
    std::string names;
    for (int i = 0; i < 16; ++i) {
      const int c = i % 2;
      std::vector<unsigned char> px(16 * 16 * 3);
      for (size_t p = 0; p < px.size(); p += 3) {
        px[p] = static_cast<unsigned char>((c ? 20 : 220) + noise(rng));
        px[p + 1] = 40;
        px[p + 2] = static_cast<unsigned char>((c ? 220 : 20) + noise(rng));
      }
      const std::string key = "sample" + std::to_string(shard * 100 + i);
      stbi_write_png((src / (key + ".png")).c_str(), 16, 16, 3, px.data(), 16 * 3);
      write_text(src / (key + ".txt"), std::string("a ") + colours[c] + " square\n");
      names += " " + key + ".png " + key + ".txt";
    }
    fs::create_directories(dir / "shards");
    const std::string tar = "tar -cf " + (dir / "shards" / ("train-" + std::to_string(shard) + ".tar")).string() +
                            " -C " + src.string() + names;
    CATCH_REQUIRE(std::system(tar.c_str()) == 0);
  }
  write_text(dir / "run.yaml",
             "run: {name: wds, seed: 1}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n"
             "data: {type: webdataset, train: 'shards/train-{0..1}.tar', shuffle_buffer: 8, batch_size: 8, workers: 2}\n"
             "tokenizer: {name: words}\n"
             "optim: {lr: 0.002, warmup_steps: 2}\n"
             "train: {steps: 8, log_every: 4}\n");
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("webdataset: 32 samples in 2 shards") != std::string::npos);
  const std::string vocab = read_text(dir / "runs/wds/tokenizer.json");
  for (const char* word : {"\"a\"", "\"red\"", "\"blue\"", "\"square\""}) CATCH_CHECK(vocab.find(word) != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/wds/checkpoints/step_8.pt"));

  // A shard that is not there, and a pattern that does not parse: exit 2 naming the key, nothing written.
  const auto missing = run_mmcl("pretrain --config run.yaml --set run.name=m --set data.train=shards/train-{0..2}.tar", dir.path());
  CATCH_CHECK(missing.exit_code == 2);
  CATCH_CHECK(missing.output == "--set: data.train: shard not found: \"shards/train-2.tar\" (one of 3)\n");
  const auto bad = run_mmcl("pretrain --config run.yaml --set run.name=b --set data.train=shards/train-{0..1.tar", dir.path());
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output == "--set: data.train: unbalanced '{' in \"shards/train-{0..1.tar\"\n");
  write_text(dir / "empty.yaml", "data: {type: webdataset}\n");
  const auto none = run_mmcl("pretrain --config empty.yaml", dir.path());
  CATCH_CHECK(none.exit_code == 2);
  CATCH_CHECK(none.output.find("data.train: required when data.type is webdataset") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/m"));
  CATCH_CHECK(!fs::exists(dir / "runs/b"));
}

// pretrain from webdataset shards written by GNU tar, and the config errors a shard pattern can give.
#include <cstdlib>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include <stb_image_write.h>

#include "fixtures.h"
#include "util.h"

using namespace mmcl::test;

namespace {

// `shards` shards written by GNU tar of `per_shard` 16 px squares each, red or blue with the caption to match;
// the image of sample `corrupt` (a key) is not an image.
void make_shards(const TempDir& dir, int shards, int per_shard, const std::string& corrupt = "") {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> noise(-20, 20);
  const char* colours[] = {"red", "blue"};
  for (int shard = 0; shard < shards; ++shard) {
    const fs::path src = dir / ("src" + std::to_string(shard));
    fs::create_directories(src);
    std::string names;
    for (int i = 0; i < per_shard; ++i) {
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
      if (key == corrupt) write_text(src / (key + ".png"), "not a png");
      names += " " + key + ".png " + key + ".txt";
    }
    fs::create_directories(dir / "shards");
    const std::string tar = "tar -cf " + (dir / "shards" / ("train-" + std::to_string(shard) + ".tar")).string() +
                            " -C " + src.string() + names;
    CATCH_REQUIRE(std::system(tar.c_str()) == 0);
  }
}

// A run of the 16 px CLIP on `data` (a YAML flow map's inside) with a words vocabulary.
std::string run_yaml(const std::string& name, int seed, const std::string& data, const std::string& optim,
                     const std::string& train) {
  return "run: {name: " + name + ", seed: " + std::to_string(seed) + "}\n" +
         "runtime: {device: cpu, threads: 1}\n"
         "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n" +
         "data: {type: webdataset, " + data + "}\n" +
         "tokenizer: {name: words}\n" +
         (optim.empty() ? "" : "optim: {" + optim + "}\n") + "train: {" + train + "}\n";
}

}  // namespace

CATCH_TEST_CASE("pretrain streams webdataset shards made by tar (words vocabulary learned from them)", "[cli]") {
  TempDir dir;
  make_shards(dir, 2, 16);
  write_text(dir / "run.yaml", run_yaml("wds", 1, "train: 'shards/train-{0..1}.tar', shuffle_buffer: 8, batch_size: 8, workers: 2",
                                        "lr: 0.002, warmup_steps: 2", "steps: 8, log_every: 4"));
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("webdataset: counted 32 samples in 2 shards") != std::string::npos);
  CATCH_CHECK(pre.output.find("webdataset: 32 samples in 2 shards, streamed") != std::string::npos);
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

CATCH_TEST_CASE("a streamed run stopped mid-epoch resumes with the samples it would have seen", "[cli]") {
  TempDir dir;
  // A corrupt image: the stream that meets it takes its next sample instead, so the streams' positions
  // (in the checkpoint) differ from batch_size x batches.
  make_shards(dir, 4, 16, "sample103");
  write_text(dir / "run.yaml",
             run_yaml("whole", 4, "train: 'shards/train-{0..3}.tar', shuffle_buffer: 20, batch_size: 4, workers: 2",
                      "lr: 0.002, warmup_steps: 2", "steps: 20, log_every: 1"));
  const auto whole = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(whole.output);
  CATCH_REQUIRE(whole.exit_code == 0);
  CATCH_CHECK(whole.output.find("skipping sample") != std::string::npos);
  const auto part = run_mmcl("pretrain --config run.yaml --set run.name=split --set train.stop_after=7", dir.path());
  CATCH_REQUIRE(part.exit_code == 0);
  const auto rest = run_mmcl("pretrain --config run.yaml --set run.name=split --resume", dir.path());
  CATCH_CAPTURE(rest.output);
  CATCH_REQUIRE(rest.exit_code == 0);
  CATCH_CHECK(rest.output.find("estimate") == std::string::npos);
  const auto a = read_json_lines(dir / "runs/whole/metrics.jsonl"), b = read_json_lines(dir / "runs/split/metrics.jsonl");
  CATCH_REQUIRE(a.size() == 20);
  CATCH_REQUIRE(b.size() == 20);
  for (size_t i = 0; i < a.size(); ++i) {  // 16 steps an epoch: the second epoch starts afresh
    CATCH_CAPTURE(i);
    CATCH_CHECK(b[i]["loss"].get<double>() == a[i]["loss"].get<double>());
  }
}

CATCH_TEST_CASE("pipe: shards: a command's output is a shard, a failing command is logged and skipped", "[cli]") {
  TempDir dir;
  make_shards(dir, 2, 16);
  write_text(dir / "run.yaml",
             run_yaml("piped", 1,
                      "samples_per_epoch: 32, batch_size: 8, workers: 1, shuffle_buffer: 8, "
                      "train: 'pipe:cat shards/train-{0..1}.tar::pipe:echo bucket not found >&2; exit 5'",
                      "", "steps: 6, log_every: 3"));
  const auto r = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  CATCH_CHECK(r.output.find("`echo bucket not found >&2; exit 5` exited with status 5: bucket not found") !=
              std::string::npos);
  CATCH_CHECK(r.output.find("failed shard readings so far: 1") != std::string::npos);
  CATCH_CHECK(fs::exists(dir / "runs/piped/checkpoints/step_6.pt"));
  // Remote shards cannot be counted: data.samples_per_epoch is required, a config error otherwise.
  const auto uncounted = run_mmcl("pretrain --config run.yaml --set run.name=u --set data.samples_per_epoch=0", dir.path());
  CATCH_CHECK(uncounted.exit_code == 2);
  CATCH_CHECK(uncounted.output.find("data.samples_per_epoch: required for shards read through a command or URL") !=
              std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/u"));
}

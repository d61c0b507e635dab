// data/image-benchmarks/prepare.py: CIFAR-10/100 binary batches, ImageNet's validation solution and
// synset files, and Karpathy's COCO/Flickr30k split JSON (tiny copies in their formats) become manifests
// mmcl reads; class-name files feed eval.classnames.
#include <cstdlib>
#include <fstream>

#include <ATen/ATen.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/data/manifest.h"
#include "mmcl/media/image.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

namespace {

bool have_python() { return std::system("python3 -c 'import json, csv, zlib' > /dev/null 2>&1") == 0; }

int prepare(const std::string& args) {
  return std::system(("python3 '" MMCL_SOURCE_DIR "/data/image-benchmarks/prepare.py' " + args + " > /dev/null 2>&1").c_str());
}

// One CIFAR record: label bytes, then the red, green and blue planes (32 x 32 each).
std::string cifar_record(const std::string& labels, unsigned char r, unsigned char g, unsigned char b) {
  std::string out = labels;
  out += std::string(1024, static_cast<char>(r)) + std::string(1024, static_cast<char>(g)) +
         std::string(1024, static_cast<char>(b));
  out[labels.size() + 1] = static_cast<char>(200);  // red of the pixel (0, 1)
  return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

CATCH_TEST_CASE("image benchmark files become manifests: CIFAR-10/100, ImageNet, Karpathy's COCO/Flickr30k splits",
                "[data]") {
  if (!have_python()) {
    CATCH_WARN("SKIPPED: python3 is not installed; data/image-benchmarks/prepare.py not checked");
    return;
  }
  TempDir dir;
  const std::string d = dir.path().string();
  // CIFAR-10: two training images in the first batch, the other batches empty, one test image.
  write_bytes(dir / "c10/data_batch_1.bin", cifar_record(std::string(1, '\3'), 10, 20, 30) + cifar_record(std::string(1, '\0'), 1, 2, 3));
  for (int i = 2; i <= 5; ++i) write_bytes(dir / ("c10/data_batch_" + std::to_string(i) + ".bin"), "");
  write_bytes(dir / "c10/test_batch.bin", cifar_record(std::string(1, '\11'), 5, 5, 5));
  write_text(dir / "c10/batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
  CATCH_REQUIRE(prepare("cifar10 --data " + d + "/c10 --out " + d + "/o10") == 0);
  const data::Manifest train = data::read_manifest(d + "/o10/train.csv", {"filepath", "", "label", "", ""});
  CATCH_REQUIRE(train.records.size() == 2);
  CATCH_CHECK(train.label_names == std::vector<std::string>{"airplane", "cat"});
  CATCH_CHECK(train.label_names[static_cast<size_t>(train.records.label(0))] == "cat");
  const at::Tensor px = media::read_image(train.records[0].image);  // [32, 32, 3] bytes
  CATCH_REQUIRE(px.sizes() == at::IntArrayRef({32, 32, 3}));
  CATCH_CHECK(px[0][0][0].item<int>() == 10);
  CATCH_CHECK(px[0][1][0].item<int>() == 200);
  CATCH_CHECK(px[5][5][1].item<int>() == 20);
  CATCH_CHECK(px[31][31][2].item<int>() == 30);
  const data::Manifest test = data::read_manifest(d + "/o10/test.csv", {"filepath", "", "label", "", ""});
  CATCH_CHECK(test.label_names == std::vector<std::string>{"truck"});
  // The class names feed zero-shot from their file.
  const auto cfg = config::load_config_text("eval: {classnames: " + d + "/o10/classnames.txt}\n", "z.yaml", {});
  CATCH_CHECK(cfg.eval.classnames.size() == 10);
  CATCH_CHECK(cfg.eval.classnames[3] == "cat");
  // A truncated batch is refused.
  write_bytes(dir / "bad/data_batch_1.bin", cifar_record(std::string(1, '\1'), 0, 0, 0).substr(0, 100));
  for (int i = 2; i <= 5; ++i) write_bytes(dir / ("bad/data_batch_" + std::to_string(i) + ".bin"), "");
  write_bytes(dir / "bad/test_batch.bin", "");
  write_text(dir / "bad/batches.meta.txt", "a\nb\n");
  CATCH_CHECK(prepare("cifar10 --data " + d + "/bad --out " + d + "/obad") != 0);

  // CIFAR-100: coarse then fine label bytes.
  write_bytes(dir / "c100/train.bin", cifar_record(std::string("\1\2", 2), 9, 9, 9));
  write_bytes(dir / "c100/test.bin", "");
  write_text(dir / "c100/fine_label_names.txt", "apple\naquarium_fish\nbaby\n");
  write_text(dir / "c100/coarse_label_names.txt", "aquatic_mammals\nfish\n");
  CATCH_REQUIRE(prepare("cifar100 --data " + d + "/c100 --out " + d + "/o100") == 0);
  CATCH_CHECK(data::read_manifest(d + "/o100/train.csv", {"filepath", "", "label", "", ""}).label_names ==
              std::vector<std::string>{"baby"});
  CATCH_REQUIRE(prepare("cifar100 --data " + d + "/c100 --out " + d + "/o100c --labels coarse") == 0);
  CATCH_CHECK(data::read_manifest(d + "/o100c/train.csv", {"filepath", "", "label", "", ""}).label_names ==
              std::vector<std::string>{"fish"});

  // ImageNet: labels are the sorted-wnid index; a listed image that is not there is left out.
  write_text(dir / "in/LOC_synset_mapping.txt", "n02 goldfish, Carassius auratus\nn01 tench, Tinca tinca\nn03 great white shark\n");
  write_text(dir / "in/LOC_val_solution.csv",
             "ImageId,PredictionString\nILSVRC2012_val_00000001,n03 1 2 3 4\nILSVRC2012_val_00000002,n01 5 6 7 8 n01 1 1 2 2\n"
             "ILSVRC2012_val_00000003,n02 0 0 1 1\n");
  write_bytes(dir / "in/val/ILSVRC2012_val_00000001.JPEG", "x");
  write_bytes(dir / "in/val/ILSVRC2012_val_00000002.JPEG", "x");
  write_bytes(dir / "in/train/n02/a.JPEG", "x");
  CATCH_REQUIRE(prepare("imagenet --val " + d + "/in/val --solution " + d + "/in/LOC_val_solution.csv --synsets " + d +
                        "/in/LOC_synset_mapping.txt --train " + d + "/in/train --out " + d + "/oin") == 0);
  const data::Manifest val = data::read_manifest(d + "/oin/val.csv", {"filepath", "", "label", "", ""});
  CATCH_REQUIRE(val.records.size() == 2);
  CATCH_CHECK(val.records.label(0) == 2);  // n03
  CATCH_CHECK(val.records.label(1) == 0);  // n01
  CATCH_CHECK(read_text(dir / "oin/classnames.txt") == "tench\ngoldfish\ngreat white shark\n");
  CATCH_CHECK(data::read_manifest(d + "/oin/train.csv", {"filepath", "", "label", "", ""}).records.label(0) == 1);

  // Karpathy's split JSON (COCO layout: filepath + filename): restval joins train; captions as a list.
  write_text(dir / "k/dataset_coco.json", R"({"images": [
    {"filepath": "train2014", "filename": "a.jpg", "split": "train", "sentences": [{"raw": "a dog. "}, {"raw": "a pup"}]},
    {"filepath": "val2014", "filename": "b.jpg", "split": "restval", "sentences": [{"raw": "a cat"}]},
    {"filepath": "val2014", "filename": "c.jpg", "split": "test", "sentences": [{"raw": "a car"}, {"raw": "a red car"}]},
    {"filepath": "val2014", "filename": "gone.jpg", "split": "test", "sentences": [{"raw": "lost"}]}]})");
  for (const char* f : {"k/img/train2014/a.jpg", "k/img/val2014/b.jpg", "k/img/val2014/c.jpg"}) write_bytes(dir / f, "x");
  CATCH_REQUIRE(prepare("karpathy --json " + d + "/k/dataset_coco.json --images " + d + "/k/img --out " + d + "/ok") == 0);
  const data::Manifest ktrain = data::read_manifest(d + "/ok/train.jsonl", {"filepath", "captions", "", "", ""});
  CATCH_REQUIRE(ktrain.records.size() == 2);
  CATCH_CHECK(ktrain.records[0].captions == std::vector<std::string>{"a dog.", "a pup"});
  const data::Manifest ktest = data::read_manifest(d + "/ok/test.jsonl", {"filepath", "captions", "", "", ""});
  CATCH_REQUIRE(ktest.records.size() == 1);
  CATCH_CHECK(ktest.records[0].captions.size() == 2);
}

CATCH_TEST_CASE("eval.classnames and eval.templates from files: text lines or a JSON list, errors naming the key",
                "[config]") {
  TempDir dir;
  const std::string d = dir.path().string();
  write_text(dir / "t.txt", "# CLIP's templates\na photo of a {}.\n\n  a drawing of a {}.  \r\n");
  write_text(dir / "c.json", R"(["cat", "dog", "Male speech, man speaking"])");
  const auto cfg = config::load_config_text(
      "eval: {templates: " + d + "/t.txt, classnames: " + d + "/c.json}\n", "z.yaml", {});
  CATCH_CHECK(cfg.eval.templates == std::vector<std::string>{"a photo of a {}.", "a drawing of a {}."});
  CATCH_CHECK(cfg.eval.classnames == std::vector<std::string>{"cat", "dog", "Male speech, man speaking"});
  // The resolved config holds the lists, not the file names.
  CATCH_CHECK(config::dump_config(cfg).find("a drawing of a {}.") != std::string::npos);
  write_text(dir / "empty.txt", "\n# nothing\n");
  write_text(dir / "notlist.json", R"({"a": 1})");
  write_text(dir / "bad.txt", "a photo\n");
  for (const auto& [value, why] : std::vector<std::pair<std::string, std::string>>{
           {"eval: {classnames: " + d + "/missing.txt}", "eval.classnames: file not found"},
           {"eval: {classnames: " + d + "/empty.txt}", "lists nothing"},
           {"eval: {classnames: " + d + "/notlist.json}", "expected a JSON list of strings"},
           {"eval: {templates: " + d + "/bad.txt}", "has no {} for the class name"}}) {
    CATCH_INFO(value);
    try {
      config::load_config_text(value + "\n", "z.yaml", {});
      CATCH_FAIL("accepted");
    } catch (const ConfigError& e) {
      CATCH_CHECK(std::string(e.what()).find(why) != std::string::npos);
      CATCH_CHECK(std::string(e.what()).find("z.yaml:1") != std::string::npos);
    }
  }
}

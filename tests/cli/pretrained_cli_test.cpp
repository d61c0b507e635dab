// open_clip's weights through the command line: zeroshot and embed with model.pretrained (no
// checkpoint), and pretraining that starts from them.
#include <random>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <stb_image_write.h>

#include "mmcl/io/safetensors.h"
#include "util.h"

using namespace mmcl::test;

namespace {

// Four 64 px noise images (labelled.csv: two classes; captions.csv: one caption each) and run.yaml: the
// open_clip model of `weights`' fixture folder, CLIP's BPE, two training steps, zero-shot on the images.
void write_pretrained_run(const fs::path& dir, const fs::path& shared, const fs::path& weights, unsigned seed) {
  std::mt19937 rng(seed);
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
  write_text(dir / "run.yaml",
             "run: {name: zs, seed: 0}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model:\n  preset: " + (weights.parent_path() / "model_config.json").string() + "\n"
             "  pretrained: " + weights.string() + "\n"
             "data: {type: manifest, train: captions.csv, batch_size: 2, workers: 0}\n"
             "tokenizer: {vocab: " + (shared / "clip" / "bpe_simple_vocab_16e6.txt.gz").string() + "}\n"
             "train: {steps: 2, log_every: 1}\n"
             "eval: {data: labelled.csv, batch_size: 2}\n");
}

}  // namespace

CATCH_TEST_CASE("model.pretrained: zeroshot, embed and pretrain from open_clip weights and config", "[cli]") {
  const auto shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; model.pretrained end to end not checked");
    return;
  }
  TempDir dir;
  const auto fixture = shared / "fixtures" / "openclip_vit_tiny";
  write_pretrained_run(dir.path(), shared, fixture / "open_clip_weights.pt", 2);

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

CATCH_TEST_CASE("open_clip's ModifiedResNet CLIP: zeroshot and pretraining from its weights, export back to open_clip",
                "[cli]") {
  const auto shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared not found; the ResNet tower end to end not checked");
    return;
  }
  TempDir dir;
  const auto fixture = shared / "fixtures" / "openclip_rn_tiny";
  write_pretrained_run(dir.path(), shared, fixture / "open_clip_weights.safetensors", 3);
  const auto zs = run_mmcl("zeroshot --config run.yaml", dir.path());
  CATCH_CAPTURE(zs.output);
  CATCH_REQUIRE(zs.exit_code == 0);
  CATCH_CHECK(nlohmann::json::parse(read_text(dir / "runs/zs/results.json"))["samples"] == 4);

  const auto pre = run_mmcl("pretrain --config run.yaml --set run.name=rn", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  // Export: open_clip's names (BatchNorm buffers included) and its RN config, layers as a list.
  const auto ex = run_mmcl("export --checkpoint runs/rn --out rn.safetensors", dir.path());
  CATCH_CAPTURE(ex.output);
  CATCH_REQUIRE(ex.exit_code == 0);
  const auto oc = nlohmann::json::parse(read_text(dir / "rn.json"));
  CATCH_CHECK(oc["vision_cfg"]["layers"] == nlohmann::json::array({1, 1, 1, 1}));
  CATCH_CHECK(oc["vision_cfg"]["width"] == 16);
  CATCH_CHECK(oc["vision_cfg"]["patch_size"].is_null());
  CATCH_CHECK(oc["quick_gelu"] == true);
  std::set<std::string> exported, reference;
  for (const auto& [name, t] : mmcl::io::load_safetensors(dir / "rn.safetensors").tensors) exported.insert(name);
  for (const auto& [name, t] : mmcl::io::load_safetensors(fixture / "open_clip_weights.safetensors").tensors)
    if (name != "attn_mask") reference.insert(name);
  CATCH_CHECK(exported == reference);
  // LiT: with the image tower locked but its last group (the attention pool), pretraining leaves the
  // other image weights as they were and moves the text tower and the attention pool.
  const auto lit = run_mmcl("pretrain --config run.yaml --set run.name=lit --set model.lock_image=true "
                            "--set model.lock_image_unlocked_groups=1", dir.path());
  CATCH_CAPTURE(lit.output);
  CATCH_REQUIRE(lit.exit_code == 0);
  CATCH_CHECK(lit.output.find("image tower tensors frozen (1 last layer groups train)") != std::string::npos);
  CATCH_REQUIRE(run_mmcl("export --checkpoint runs/lit --out lit.safetensors", dir.path()).exit_code == 0);
  std::map<std::string, at::Tensor> after, before;
  for (const auto& [name, t] : mmcl::io::load_safetensors(dir / "lit.safetensors").tensors) after[name] = t;
  for (const auto& [name, t] : mmcl::io::load_safetensors(fixture / "open_clip_weights.safetensors").tensors) before[name] = t;
  for (const std::string name : {"visual.conv1.weight", "visual.layer1.0.conv2.weight", "visual.layer4.0.downsample.0.weight",
                                 "visual.bn1.weight"}) {
    CATCH_INFO(name);
    CATCH_CHECK(at::equal(after.at(name), before.at(name)));
  }
  for (const std::string name : {"visual.attnpool.c_proj.weight", "token_embedding.weight", "text_projection"}) {
    CATCH_INFO(name);
    CATCH_CHECK(!at::equal(after.at(name), before.at(name)));
  }
  // The exported pair is itself a preset and weights mmcl (and open_clip) read.
  const auto back = run_mmcl("zeroshot --config run.yaml --set run.name=back --set model.preset=rn.json "
                             "--set model.pretrained=rn.safetensors", dir.path());
  CATCH_CAPTURE(back.output);
  CATCH_CHECK(back.exit_code == 0);
}

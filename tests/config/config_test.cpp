#include <set>

#include "mmcl/config/load.h"
#include "mmcl/config/schema.h"
#include "mmcl/core/error.h"
#include "util.h"

using mmcl::ConfigError;
using mmcl::config::load_config;
using mmcl::config::RunConfig;
using namespace mmcl::test;

namespace {

// The message load_config throws for `yaml` (written to `dir`/x.yaml), or "" if it loads.
std::string error_for(const TempDir& dir, const std::string& yaml, const std::vector<std::string>& sets = {}) {
  write_text(dir / "x.yaml", yaml);
  try {
    load_config((dir / "x.yaml").string(), sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

CATCH_TEST_CASE("malformed configs fail with file:line, key and what is wrong", "[config]") {
  TempDir dir;
  const std::string f = (dir / "x.yaml").string();
  struct Case {
    std::string yaml;
    std::vector<std::string> sets;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"optim:\n  lr: abc\n", {}, f + ":2: optim.lr: expected a positive number, got \"abc\""},
      {"optim:\n  lr: -1\n", {}, f + ":2: optim.lr: expected a positive number, got \"-1\""},
      {"optim:\n  lrr: 0.1\n", {}, f + ":2: optim.lrr: unknown key (did you mean optim.lr?; every key: mmcl list --keys)"},
      {"optim: 5\n", {}, f + ":1: optim: expected a mapping of optim.* keys, got \"5\""},
      {"runtime:\n  device: tpu\n", {}, f + ":2: runtime.device: expected one of auto, cpu, cuda, got \"tpu\""},
      {"data:\n  batch_size: 3.5\n", {}, f + ":2: data.batch_size: expected an integer >= 2, got \"3.5\""},
      {"data:\n  batch_size: 1\n", {}, f + ":2: data.batch_size: expected an integer >= 2, got \"1\""},
      {"model:\n  quick_gelu: maybe\n", {}, f + ":2: model.quick_gelu: expected true or false, got \"maybe\""},
      {"optim:\n  betas: [0.9]\n", {}, f + ":2: optim.betas: expected two numbers in [0, 1), got a list"},
      {"optim:\n  betas: [0.9, 1.5]\n", {}, f + ":2: optim.betas: expected two numbers in [0, 1), got a list"},
      {"optim:\n  lr:\n    a: 1\n", {}, f + ":2: optim.lr: expected a positive number, got a mapping"},
      {"model:\n  preset: nope\n", {}, f + ":2: model.preset: unknown preset \"nope\" (available: "},
      {"model:\n  vision:\n    image_size: 65\n    patch_size: 16\n", {},
       f + ":3: model.vision.image_size: 65 is not a multiple of model.vision.patch_size (16)"},
      {"model:\n  text:\n    width: 100\n    heads: 8\n", {},
       f + ":3: model.text.width: 100 is not a multiple of model.text.heads (8)"},
      {"optim: {lr: 0.1, min_lr: 0.2}\n", {}, f + ":1: optim.min_lr: must not exceed optim.lr (0.1)"},
      {"optim:\n  lr: 0.1\n  lr: 0.2\n", {}, f + ":3: optim.lr: duplicate key"},
      {"- a\n- b\n", {}, f + ":1: expected a mapping of keys at the top level, got a list"},
      {"optim:\n  lr: [0.1\n", {}, f + ":"},  // syntax error: checked below
      {"run:\n  seed: 1\n", {"optim.lr=abc"}, "--set: optim.lr: expected a positive number, got \"abc\""},
      {"", {"optim.lr"}, "--set optim.lr: expected key=value, e.g. --set optim.lr=1e-4"},
      {"", {"optim=1"}, "--set: optim: is a section; set one of its keys (optim.*)"},
      {"", {"train.stepz=3"}, "--set: train.stepz: unknown key (did you mean train.steps?; every key: mmcl list --keys)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {  // the config fuzzer's input: --set lines, "---", the YAML
    std::string seed;
    for (const auto& set : cases[i].sets) seed += set + "\n";
    fuzz_seed("config_fuzz", "case" + std::to_string(i), cases[i].sets.empty() ? cases[i].yaml : seed + "---\n" + cases[i].yaml);
  }
  for (const Case& c : cases) {
    CATCH_CAPTURE(c.yaml);
    const std::string message = error_for(dir, c.yaml, c.sets);
    CATCH_CAPTURE(message);
    CATCH_CHECK(message.rfind(c.expected, 0) == 0);
    CATCH_CHECK(message.find('\n') == std::string::npos);  // one line
  }
  CATCH_CHECK(error_for(dir, "optim:\n  lr: [0.1\n").find("YAML syntax error") != std::string::npos);
  // Bytes a terminal would act on (a binary file given as the config) are printed escaped.
  CATCH_CHECK(error_for(dir, "optim:\n  lr: \"a\\x1b[2Jb\"\n") == f + ":2: optim.lr: expected a positive number, got \"a\\x1b[2Jb\"");
  const std::string binary = error_for(dir, std::string("\x7f" "ELF\x02\x01: 1\n"));
  CATCH_CAPTURE(binary);
  CATCH_CHECK(binary.rfind(f + ":1: ", 0) == 0);
  CATCH_CHECK(binary.find_first_of(std::string("\x7f\x02\x01", 3)) == std::string::npos);
}

CATCH_TEST_CASE("a missing config file or preset file is named", "[config]") {
  TempDir dir;
  const std::string missing = (dir / "nope.yaml").string();
  CATCH_REQUIRE_THROWS_WITH(load_config(missing), missing + ": config file not found");
  const std::string message = error_for(dir, "model:\n  preset: presets/mine.yaml\n");
  CATCH_CHECK(message.rfind((dir / "x.yaml").string() + ":2: model.preset: unknown preset \"presets/mine.yaml\"", 0) == 0);
}

CATCH_TEST_CASE("precedence: defaults < preset < run file < --set", "[config]") {
  TempDir dir;
  write_text(dir / "x.yaml", "");
  RunConfig c = load_config((dir / "x.yaml").string());
  CATCH_CHECK(c.model.vision.width == 768);  // built-in default
  CATCH_CHECK(c.optim.lr == 5e-4);

  write_text(dir / "x.yaml", "model:\n  preset: clip-vit-tiny\n");
  c = load_config((dir / "x.yaml").string());
  CATCH_CHECK(c.model.vision.width == 128);  // the preset
  CATCH_CHECK(c.model.vision.image_size == 64);

  // The run file wins over the preset wherever the keys stand.
  write_text(dir / "x.yaml", "model:\n  vision: {width: 64}\n  preset: clip-vit-tiny\n");
  c = load_config((dir / "x.yaml").string());
  CATCH_CHECK(c.model.vision.width == 64);
  CATCH_CHECK(c.model.vision.layers == 3);  // still from the preset

  c = load_config((dir / "x.yaml").string(), {"model.vision.width=32", "optim.betas=[0.8, 0.9]"});
  CATCH_CHECK(c.model.vision.width == 32);
  CATCH_CHECK(c.optim.betas[0] == 0.8);
  CATCH_CHECK(c.optim.betas[1] == 0.9);

  // --set may choose the preset; the file's own keys still win over it.
  c = load_config((dir / "x.yaml").string(), {"model.preset=ViT-B-16"});
  CATCH_CHECK(c.model.preset == "ViT-B-16");
  CATCH_CHECK(c.model.vision.patch_size == 16);
  CATCH_CHECK(c.model.vision.width == 64);

  // A preset given as a path: relative to the working directory, as every path of a config and of --set
  // (not to the config file's folder).
  write_text(dir / "presets/mine.yaml", "embed_dim: 24\nvision:\n  layers: 5\n");
  write_text(dir / "x.yaml", "model:\n  preset: presets/mine.yaml\n");
  const fs::path before = fs::current_path();
  fs::current_path(dir.path());
  try {
    c = load_config("x.yaml");
  } catch (...) {
    fs::current_path(before);
    throw;
  }
  fs::current_path(before);
  CATCH_CHECK(c.model.embed_dim == 24);
  CATCH_CHECK(c.model.vision.layers == 5);
  CATCH_CHECK(error_for(dir, "model:\n  preset: presets/mine.yaml\n").find("unknown preset \"presets/mine.yaml\"") !=
              std::string::npos);
  c = load_config((dir / "x.yaml").string(), {"model.preset=" + (dir / "presets/mine.yaml").string()});
  CATCH_CHECK(c.model.vision.layers == 5);

  // A bad value inside a preset is reported against the preset file.
  write_text(dir / "presets/bad.yaml", "embed_dim: 24\nvision:\n  layers: zero\n");
  const std::string bad = (dir / "presets/bad.yaml").string();
  CATCH_CHECK(error_for(dir, "model:\n  preset: " + bad + "\n") ==
              bad + ":3: model.vision.layers: expected a positive integer, got \"zero\"");
}

CATCH_TEST_CASE("model.base: a CLIP preset under model.preset, named by the preset or the config", "[config]") {
  TempDir dir;
  // fdt-tiny names clip-vit-tiny as its base: the towers come from there, the FDT keys from fdt-tiny.
  write_text(dir / "x.yaml", "model:\n  preset: fdt-tiny\n");
  RunConfig c = load_config((dir / "x.yaml").string());
  CATCH_CHECK(c.model.name == "fdt");
  CATCH_CHECK(c.model.base == "clip-vit-tiny");
  CATCH_CHECK(c.model.vision.image_size == 64);
  CATCH_CHECK(c.model.vision.width == 128);
  CATCH_CHECK(c.model.fdt.tokens == 2048);

  // The config's own base wins over the preset's, and the config's keys over both.
  write_text(dir / "x.yaml", "model:\n  preset: fdt-tiny\n  base: ViT-B-32\n  fdt: {tokens: 64}\n");
  c = load_config((dir / "x.yaml").string());
  CATCH_CHECK(c.model.base == "ViT-B-32");
  CATCH_CHECK(c.model.vision.width == 768);
  CATCH_CHECK(c.model.fdt.tokens == 64);
  CATCH_CHECK(c.model.fdt.dim == 128);  // still fdt-tiny's

  // The form: a family, a base and the FDT keys, without a preset; --set may change the base.
  write_text(dir / "x.yaml", "model:\n  name: fdt\n  base: clip-vit-tiny\n  fdt: {tokens: 512, dim: 64, weighting: softmax}\n");
  c = load_config((dir / "x.yaml").string(), {"model.base=ViT-B-16"});
  CATCH_CHECK(c.model.name == "fdt");
  CATCH_CHECK(c.model.vision.patch_size == 16);
  CATCH_CHECK(c.model.fdt.weighting == mmcl::TokenWeighting::softmax);
  const RunConfig back = mmcl::config::load_resolved_config(mmcl::config::dump_config(c), "dump");
  CATCH_CHECK(mmcl::config::config_differences(c, back).empty());

  // A base must be a CLIP preset, and a known one.
  CATCH_CHECK(error_for(dir, "model:\n  name: fdt\n  base: fdt-tiny\n") ==
              (dir / "x.yaml").string() + ":3: model.base: \"fdt-tiny\" is a fdt preset; a base must be a CLIP preset");
  CATCH_CHECK_THAT(error_for(dir, "model:\n  base: nope\n"),
                   Catch::StartsWith((dir / "x.yaml").string() + ":2: model.base: unknown preset \"nope\""));
  CATCH_CHECK_THAT(error_for(dir, "model:\n  fdt: {weighting: max}\n"),
                   Catch::Contains("model.fdt.weighting: expected one of sparsemax, softmax, got \"max\""));
}

CATCH_TEST_CASE("the resolved config dumps and reloads to the same values", "[config]") {
  TempDir dir;
  write_text(dir / "x.yaml", "model:\n  preset: clip-vit-tiny\noptim:\n  lr: 0.00123\n  betas: [0.85, 0.975]\n");
  const RunConfig c = load_config((dir / "x.yaml").string(), {"run.name=abc", "train.steps=7"});
  const std::string dumped = mmcl::config::dump_config(c);
  const RunConfig back = mmcl::config::load_resolved_config(dumped, "dump");
  CATCH_CHECK(mmcl::config::config_differences(c, back).empty());
  CATCH_CHECK(mmcl::config::dump_config(back) == dumped);
  CATCH_CHECK(back.optim.lr == 0.00123);
  CATCH_CHECK(back.optim.betas[1] == 0.975);
  CATCH_CHECK(back.run.name == "abc");
  CATCH_CHECK(back.train.steps == 7);

  RunConfig changed = back;
  changed.optim.lr = 0.5;
  const auto diff = mmcl::config::config_differences(back, changed);
  CATCH_REQUIRE(diff.size() == 1);
  CATCH_CHECK(diff[0] == "optim.lr: 0.00123 -> 0.5");
}

CATCH_TEST_CASE("every key is declared once and documented in docs/CONFIG.md", "[config]") {
  RunConfig defaults;
  mmcl::config::Schema schema(defaults);
  std::set<std::string> keys;
  for (const auto& f : schema.fields()) {
    CATCH_CAPTURE(f.key);
    CATCH_CHECK(keys.insert(f.key).second);
    CATCH_CHECK(!f.doc.empty());
  }
  const std::string doc = read_text(fs::path(MMCL_SOURCE_DIR) / "docs" / "CONFIG.md");
  CATCH_REQUIRE(!doc.empty());
  for (const auto& key : keys) {
    CATCH_CAPTURE(key);
    CATCH_CHECK(doc.find("`" + key + "`") != std::string::npos);
  }
}

CATCH_TEST_CASE("what a model trains with comes from the model table, each subcommand's files are required", "[config]") {
  TempDir dir;
  const std::string f = (dir / "x.yaml").string();
  // Capabilities: the message names the file:line of the key and what the model trains with.
  CATCH_CHECK(error_for(dir, "model:\n  name: cvrl\nloss:\n  name: infonce\ndata: {type: video}\n") ==
              f + ":4: loss.name: model.name cvrl trains with ntxent, not \"infonce\"");
  CATCH_CHECK(error_for(dir, "model: {name: clip}\ndata:\n  type: video\n") ==
              f + ":3: data.type: model.name clip trains on data.type synthetic, manifest, webdataset, not \"video\"");
  CATCH_CHECK(error_for(dir, "model: {name: fdt}\nloss: {name: vatt}\n").find("loss.name: model.name fdt trains with infonce") !=
              std::string::npos);
  // The choice keys parse into their values once, here.
  write_text(dir / "x.yaml", "runtime: {precision: amp_bf16, device: cpu}\noptim: {schedule: constant}\n");
  const RunConfig c = load_config(f);
  CATCH_CHECK(c.runtime.precision == mmcl::PrecisionMode::amp_bf16);
  CATCH_CHECK(c.runtime.device == mmcl::DeviceChoice::cpu);
  CATCH_CHECK(c.optim.schedule == mmcl::LrSchedule::constant);
  CATCH_CHECK(error_for(dir, "runtime: {device: cpu, precision: amp_fp16}\n") ==
              f + ":1: runtime.precision: amp_fp16 needs a CUDA device (CPU autocast runs bfloat16 only); use amp_bf16 "
                  "on the CPU");

  // A shard range past 64 bits is a config error at its line (exit 2), not an exception from the library.
  CATCH_CHECK(error_for(dir, "data:\n  type: webdataset\n  train: 's-{0..99999999999999999999}.tar'\n") ==
              f + ":3: data.train: bad range {0..99999999999999999999} in \"s-{0..99999999999999999999}.tar\": its "
                  "numbers do not fit in 64 bits");

  // Per subcommand: evaluations need eval.data and a checkpoint (or model.pretrained), linear-probe and
  // finetune also eval.train; pretrain needs none of them.
  write_text(dir / "x.yaml", "run: {name: a}\n");
  CATCH_CHECK_NOTHROW(load_config(f, {}, "pretrain"));
  auto message = [&](const std::string& subcommand, const std::vector<std::string>& sets = {}) {
    try {
      load_config(f, sets, subcommand);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CATCH_CHECK(message("zeroshot").find("eval.checkpoint: required by this subcommand (or set model.pretrained)") !=
              std::string::npos);
  write_text(dir / "ckpt.pt", "x");
  const std::string ckpt = "eval.checkpoint=" + (dir / "ckpt.pt").string();
  CATCH_CHECK(message("retrieve", {ckpt}).find("eval.data: required by this subcommand") != std::string::npos);
  CATCH_CHECK(message("linear-probe", {ckpt, "eval.data=" + (dir / "ckpt.pt").string()})
                  .find("eval.train: required by this subcommand") != std::string::npos);
  CATCH_CHECK(message("embed", {ckpt, "eval.data=nowhere.csv"}).find("eval.data: file not found: \"nowhere.csv\"") !=
              std::string::npos);
  CATCH_CHECK(message("zeroshot", {ckpt, "eval.data=" + (dir / "ckpt.pt").string()}).empty());
}

CATCH_TEST_CASE("the paper recipes load with their papers' settings", "[config]") {
  // (data.train names a file that is here, so that the check that it exists passes.)
  const std::vector<std::string> here = {"data.train=" MMCL_SOURCE_DIR "/README.md"};
  const RunConfig cvrl = load_config(MMCL_SOURCE_DIR "/configs/runs/cvrl-r3d50-k400.yaml", here);
  CATCH_CHECK(cvrl.model.name == "cvrl");
  CATCH_CHECK(cvrl.model.video.backbone == mmcl::VideoBackbone::r3d50);
  CATCH_CHECK(cvrl.model.video.frames == 16);
  CATCH_CHECK(cvrl.model.video.size == 224);
  CATCH_CHECK(cvrl.model.cvrl.hidden_layers == 3);
  CATCH_CHECK(cvrl.model.cvrl.hidden == 2048);
  CATCH_CHECK(cvrl.model.cvrl.dim == 128);
  CATCH_CHECK(cvrl.loss.temperature == 0.1);
  CATCH_CHECK(cvrl.optim.name == mmcl::OptimizerKind::lars);
  CATCH_CHECK(cvrl.optim.lr == 0.32);
  CATCH_CHECK(cvrl.optim.weight_decay == 1e-6);
  CATCH_CHECK(cvrl.data.video.crop_scale == std::array<double, 2>{0.3, 1.0});
  CATCH_CHECK(cvrl.data.video.crop_ratio == std::array<double, 2>{0.5, 2.0});
  CATCH_CHECK(cvrl.data.video.jitter_strength == 2.0);
  CATCH_CHECK(cvrl.data.video.blur_prob == 1.0);
  CATCH_CHECK(cvrl.data.video.blur_prob_view2 == 0.1);
  CATCH_CHECK(cvrl.data.video.solarize_prob_view2 == 0.2);
  CATCH_CHECK(cvrl.data.batch_size * 8 == 1024);
  CATCH_CHECK(cvrl.dist.sync_bn);
  for (const char* name : {"vatt-ms-base", "vatt-ma-medium"}) {
    CATCH_CAPTURE(name);
    const RunConfig v = load_config(std::string(MMCL_SOURCE_DIR "/configs/runs/") + name + ".yaml", here);
    CATCH_CHECK(v.loss.asymmetric_nce);
    CATCH_CHECK(v.loss.normalize_weights);
    CATCH_CHECK(v.loss.temperature == 0.07);
    CATCH_CHECK(v.model.vatt.dropout == 0.1);
    CATCH_CHECK(v.model.vatt.video_droptoken == 0.5);
    CATCH_CHECK(v.data.video.audio_noise == 0.01);
    CATCH_CHECK(v.model.video.frames == 32);
    CATCH_CHECK(v.model.vatt.audio_patch == 128);
    CATCH_CHECK(v.data.video.fps == 10);  // 32 frames at 10 fps: the 3.2 s of audio
    CATCH_CHECK(static_cast<double>(v.model.vatt.audio_samples) / v.model.vatt.audio_rate == 3.2);
    CATCH_CHECK(v.dist.sync_bn);
  }
  CATCH_CHECK(load_config(MMCL_SOURCE_DIR "/configs/runs/vatt-ma-medium.yaml", here).model.vatt.backbone ==
              mmcl::VattBackbone::agnostic);
  CATCH_CHECK(load_config(MMCL_SOURCE_DIR "/configs/runs/vatt-ma-medium.yaml", here).model.vatt.width == 1024);
}

CATCH_TEST_CASE("the FDT and SimCLR recipes load with their settings", "[config]") {
  const std::vector<std::string> here = {"data.train=" MMCL_SOURCE_DIR "/README.md"};
  std::vector<std::string> fdt_here = here;
  fdt_here.push_back("tokenizer.vocab=" MMCL_SOURCE_DIR "/README.md");
  const RunConfig fdt = load_config(MMCL_SOURCE_DIR "/configs/runs/fdt-vit-b32-cc3m.yaml", fdt_here);
  CATCH_CHECK(fdt.model.name == "fdt");
  CATCH_CHECK(fdt.model.fdt.tokens == 16384);
  CATCH_CHECK(fdt.model.fdt.pooling == mmcl::TokenPooling::max);
  CATCH_CHECK(fdt.model.min_logit_scale == 3.0);
  CATCH_CHECK(fdt.model.vision.width == 768);  // ViT-B/32's towers
  CATCH_CHECK(fdt.data.image.scale == std::array<double, 2>{0.2, 1.0});
  CATCH_CHECK(fdt.data.image.jitter == std::array<double, 4>{0.4, 0.4, 0.4, 0.1});
  CATCH_CHECK(fdt.data.image.jitter_prob == 0.8);
  CATCH_CHECK(fdt.data.image.grayscale_prob == 0.2);
  CATCH_CHECK(fdt.data.image.blur_prob == 0.5);
  CATCH_CHECK(fdt.optim.weight_decay == 0.1);
  CATCH_CHECK(fdt.optim.warmup_steps == 2500);
  const RunConfig simclr = load_config(MMCL_SOURCE_DIR "/configs/runs/simclr-r18-fashion-mnist.yaml", here);
  CATCH_CHECK(simclr.model.name == "simclr");
  CATCH_CHECK(simclr.model.vision.tower == mmcl::VisionTower::resnet18);
  CATCH_CHECK(simclr.model.vision.small_stem);
  CATCH_CHECK(simclr.model.simclr.hidden_layers == 1);
  CATCH_CHECK(simclr.model.simclr.dim == 128);
  CATCH_CHECK(simclr.loss.name == "ntxent");
  CATCH_CHECK(simclr.data.image.scale == std::array<double, 2>{0.08, 1.0});
  CATCH_CHECK(simclr.data.image.jitter == std::array<double, 4>{0.8, 0.8, 0.8, 0.2});
  // Defaults: no colour augmentation, the model's own views.
  const RunConfig plain = mmcl::config::load_config_text("run: {name: plain}\n", "plain.yaml");
  CATCH_CHECK(plain.data.image.jitter_prob == 0);
  CATCH_CHECK(plain.data.image.blur_prob == 0);
  CATCH_CHECK(plain.data.views == 0);
  CATCH_CHECK(plain.model.min_logit_scale == 0);
  // A torchvision ResNet is torchvision's width unless told otherwise (768 is the ViT's default).
  const std::string simclr_yaml = "loss: {name: ntxent}\ndata: {type: manifest, train: " MMCL_SOURCE_DIR "/README.md}\n";
  const RunConfig r18 = mmcl::config::load_config_text("model: {name: simclr, vision: {tower: resnet50}}\n" + simclr_yaml,
                                                       "r18.yaml");
  CATCH_CHECK(r18.model.vision.width == 64);
  CATCH_CHECK(mmcl::config::load_config_text("model: {name: simclr, vision: {tower: resnet50, width: 16}}\n" + simclr_yaml,
                                             "r18.yaml").model.vision.width == 16);
}

CATCH_TEST_CASE("dump_config_for_model: the sections the model and the data use, read back the same", "[config]") {
  RunConfig c;  // clip on synthetic data
  std::string d = mmcl::config::dump_config_for_model(c);
  for (const char* present : {"\n  vision:", "\n  text:", "\ntokenizer:", "\n  synthetic:", "\n  image:", "\noptim:", "\neval:"})
    CATCH_CHECK(d.find(present) != std::string::npos);
  for (const char* absent : {"\n  vatt:", "\n  fdt:", "\n  cvrl:", "\n  simclr:", "\n  video:", "\n  webdataset:"})
    CATCH_CHECK(d.find(absent) == std::string::npos);
  CATCH_CHECK(d.size() < mmcl::config::dump_config(c).size());
  CATCH_CHECK(mmcl::config::config_differences(c, mmcl::config::load_config_text(d, "dump")).empty());

  c.model.name = "cvrl";  // video alone: no text tower, no tokenizer, no image keys
  d = mmcl::config::dump_config_for_model(c);
  for (const char* present : {"\n  video:", "\n  cvrl:"}) CATCH_CHECK(d.find(present) != std::string::npos);
  for (const char* absent : {"\n  vision:", "\n  text:", "\ntokenizer:", "\n  image:", "\n  vatt:"})
    CATCH_CHECK(d.find(absent) == std::string::npos);
  c.model.name = "vatt";
  c.data.type = "webdataset";
  d = mmcl::config::dump_config_for_model(c);
  for (const char* present : {"\n  vatt:", "\n    text:", "\n  text:", "\n  webdataset:", "\ntokenizer:"})
    CATCH_CHECK(d.find(present) != std::string::npos);
  for (const char* absent : {"\n  vision:", "\n  synthetic:", "\n  simclr:"}) CATCH_CHECK(d.find(absent) == std::string::npos);
}

CATCH_TEST_CASE("the metrics of eval.during, which train.keep_best names", "[config]") {
  RunConfig c;
  c.eval.during = {"zeroshot", "retrieval", "val_loss"};
  const auto m = mmcl::config::evaluation_metrics(c);
  CATCH_CHECK(m == std::vector<std::string>{
                       "eval/zeroshot/top1", "eval/zeroshot/top5", "eval/retrieval/image_to_text_R@1",
                       "eval/retrieval/image_to_text_R@5", "eval/retrieval/image_to_text_R@10",
                       "eval/retrieval/image_to_text_median_rank", "eval/retrieval/text_to_image_R@1",
                       "eval/retrieval/text_to_image_R@5", "eval/retrieval/text_to_image_R@10",
                       "eval/retrieval/text_to_image_median_rank", "eval/retrieval/rsum", "eval/val_loss"});
  CATCH_CHECK(mmcl::config::lower_is_better("eval/val_loss"));
  CATCH_CHECK(mmcl::config::lower_is_better("eval/retrieval/text_to_image_median_rank"));
  CATCH_CHECK(!mmcl::config::lower_is_better("eval/zeroshot/top1"));
  CATCH_CHECK(!mmcl::config::lower_is_better("eval/retrieval/rsum"));
  c.model.name = "vatt";
  c.eval.retrieval = mmcl::RetrievalTarget::audio;
  c.eval.during = {"retrieval"};
  CATCH_CHECK(mmcl::config::evaluation_metrics(c)[0] == "eval/retrieval/video_to_audio_R@1");
}

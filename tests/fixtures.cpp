#include "fixtures.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include <stb_image_write.h>
#include <torch/nn/module.h>

#include "mmcl/core/precision.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/clip.h"
#include "mmcl/models/model.h"
#include "mmcl/train/grad_scaler.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/trainer.h"

namespace mmcl::test {

namespace {
// A 16x16 PNG of one colour with a little noise.
void write_png(const fs::path& path, int r, int g, int b, std::mt19937& rng) {
  std::vector<unsigned char> px(16 * 16 * 3);
  std::uniform_int_distribution<int> noise(-20, 20);
  for (size_t i = 0; i < px.size(); i += 3) {
    px[i] = static_cast<unsigned char>(std::clamp(r + noise(rng), 0, 255));
    px[i + 1] = static_cast<unsigned char>(std::clamp(g + noise(rng), 0, 255));
    px[i + 2] = static_cast<unsigned char>(std::clamp(b + noise(rng), 0, 255));
  }
  fs::create_directories(path.parent_path());
  stbi_write_png(path.c_str(), 16, 16, 3, px.data(), 16 * 3);
}
}  // namespace

void write_colour_squares(const fs::path& dir) {
  std::mt19937 rng(1);
  std::string train = "filepath,title\n", test = "filepath,label\n", captions = "filepath,title\n";
  const char* colours[] = {"red", "blue"};
  for (int i = 0; i < 32; ++i) {
    const int c = i % 2;
    write_png(dir / "img" / ("train" + std::to_string(i) + ".png"), c ? 20 : 220, 40, c ? 220 : 20, rng);
    train += "img/train" + std::to_string(i) + ".png," + (i % 4 < 2 ? "a " : "a photo of a ") + colours[c] + " square\n";
  }
  for (int i = 0; i < 8; ++i) {
    const int c = i % 2;
    write_png(dir / "img" / ("test" + std::to_string(i) + ".png"), c ? 20 : 220, 40, c ? 220 : 20, rng);
    test += "img/test" + std::to_string(i) + ".png," + colours[c] + "\n";
    captions += "img/test" + std::to_string(i) + ".png,a " + colours[c] + " square\n";
  }
  write_text(dir / "img/broken.png", "not a png");
  test += "img/broken.png,red\n";
  write_text(dir / "train.csv", train);
  write_text(dir / "test.csv", test);
  write_text(dir / "captions.csv", captions);
}

std::string colour_squares_yaml(const std::string& name, const std::string& extra) {
  return "run: {name: " + name + ", seed: 1}\n"
         "runtime: {device: cpu, threads: 1}\n"
         "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n"
         "data: {type: manifest, train: train.csv, batch_size: 8, workers: 1}\n"
         "tokenizer: {name: words}\n" + extra;
}

std::vector<nlohmann::json> read_json_lines(const fs::path& file) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string tiny_run_yaml(const std::string& name, int steps) {
  return "run:\n  name: " + name +
         "\n  seed: 3\n"
         "runtime:\n  device: cpu\n  threads: 1\n"
         "model:\n  preset: clip-vit-tiny\n  embed_dim: 16\n"
         "  vision: {image_size: 32, patch_size: 8, width: 32, layers: 1, head_width: 16}\n"
         "  text: {context_length: 12, vocab_size: 100, width: 32, heads: 2, layers: 1}\n"
         "data:\n  type: synthetic\n  batch_size: 8\n  workers: 2\n  synthetic: {size: 64}\n"
         "optim:\n  lr: 0.002\n  warmup_steps: 10\n"
         "train:\n  steps: " + std::to_string(steps) + "\n  log_every: 1\n";
}

config::ModelConfig micro_clip_config() {
  config::ModelConfig c;
  c.embed_dim = 8;
  c.vision.image_size = 16;
  c.vision.patch_size = 8;
  c.vision.width = 16;
  c.vision.layers = 1;
  c.vision.head_width = 8;
  c.vision.mlp_ratio = 2.0;
  c.text = {6, 20, 16, 2, 1, 2.0};
  return c;
}

data::Batch micro_clip_batch(int64_t n) {
  data::Batch b;
  b.image = at::randn({n, 3, 16, 16});
  b.text = at::randint(1, 18, {n, 6}, at::kLong);
  b.text.select(1, 5).fill_(19);
  for (int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  return b;
}

void check_open_clip_outputs(models::ClipImpl& model, const fs::path& fixture_dir) {
  std::map<std::string, at::Tensor> io;
  for (auto& [name, t] : io::load_safetensors(fixture_dir / "io.safetensors").tensors) io[name] = t;
  model.eval();
  torch::NoGradGuard no_grad;
  const at::Tensor image = model.encode_image(io.at("images"));
  const at::Tensor text = model.encode_text(io.at("text_ids"));
  CATCH_CHECK((image - io.at("image_features")).abs().max().item<double>() < 1e-5);
  CATCH_CHECK((text - io.at("text_features")).abs().max().item<double>() < 1e-5);
  const at::Tensor logits = model.logit_scale.exp() * at::matmul(image, text.t());
  CATCH_CHECK((logits - io.at("logits_per_image")).abs().max().item<double>() < 1e-4);
}

Curve learning_curve(const std::string& precision_name, const c10::Device& device, double grad_clip) {
  torch::manual_seed(3);
  models::ModelPtr model = models::make_model(micro_clip_config());
  const Precision precision = resolve_precision(parse_choice<PrecisionMode>(precision_name).value(), device);
  model->to(device, precision.param_dtype());
  config::OptimConfig oc;
  oc.lr = 3e-3;
  oc.weight_decay = 0;
  auto optimizer = train::make_optimizer(*model, oc);
  const auto loss = losses::make_loss({});
  torch::manual_seed(5);
  const data::Batch batch = micro_clip_batch(16).to(device);
  train::GradScaler scaler(precision.scale_loss);
  const train::StepPrecision sp{precision, device, &scaler};
  Curve curve;
  for (int step = 0; step < 30; ++step) {
    optimizer->zero_grad();
    curve.losses.push_back(train::forward_backward(*model, *loss, {batch}, {}, sp).loss.item<double>());
    train::step_optimizer(*optimizer, *model, &scaler, grad_clip);
    model->after_step();
  }
  curve.model = model;
  curve.loss_scale = scaler.scale();
  return curve;
}

at::Tensor attention_reference(models::SelfAttentionImpl& attn, const at::Tensor& x, const at::Tensor& mask) {
  const auto f64 = [](const at::Tensor& t) { return t.to(at::kDouble); };
  const int64_t b = x.size(0), l = x.size(1), d = x.size(2), h = attn.heads, e = d / h;
  const at::Tensor qkv =
      at::linear(f64(x), f64(attn.in_proj_weight), f64(attn.in_proj_bias)).view({b, l, 3, h, e}).permute({2, 0, 3, 1, 4});
  at::Tensor scores = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(static_cast<double>(e));
  if (mask.defined()) scores = scores + f64(mask);
  const at::Tensor out = at::matmul(at::softmax(scores, -1), qkv[2]).transpose(1, 2).reshape({b, l, d});
  return at::linear(out, f64(attn.out_proj->weight), f64(attn.out_proj->bias));
}

}  // namespace mmcl::test

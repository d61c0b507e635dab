#include "util.h"

#include "dist/processes.h"
#include "cli/run_results.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include <stb_image_write.h>

namespace mmcl::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("mmcl-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CommandResult run_mmcl(const std::string& args, const fs::path& cwd) {
  const std::string command = "cd '" + cwd.string() + "' && '" MMCL_BINARY "' " + args + " 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void write_text(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path shared_dir() {
  const fs::path dir = MMCL_SHARED_DIR;
  std::error_code ec;
  return fs::is_directory(dir / "fixtures", ec) ? dir : fs::path();
}

nlohmann::json run_for_results(const std::string& args, const fs::path& cwd, const std::string& run_name) {
  const CommandResult r = run_mmcl(args, cwd);
  CATCH_CAPTURE(args, r.output);
  CATCH_REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(read_text(cwd / "runs" / run_name / "results.json"));
}

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

}  // namespace mmcl::test

namespace mmcl::test {

pid_t spawn_mmcl(const std::string& args, const fs::path& cwd, const fs::path& log) {
  return spawn_process(MMCL_BINARY, args, "", cwd, log);
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace mmcl::test

namespace mmcl::test {

config::ModelConfig micro_clip_config() {
  config::ModelConfig c;
  c.embed_dim = 8;
  c.vision = {16, 8, 16, 1, 8, 2.0};
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

}  // namespace mmcl::test

#include <torch/nn/module.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/models/clip.h"

namespace mmcl::test {

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

}  // namespace mmcl::test

#include "mmcl/losses/loss.h"
#include "mmcl/models/model.h"
#include "mmcl/train/optim.h"
#include "mmcl/train/precision.h"
#include "mmcl/train/trainer.h"

namespace mmcl::test {

Curve learning_curve(const std::string& precision_name, const c10::Device& device, double grad_clip) {
  torch::manual_seed(3);
  models::ModelPtr model = models::make_model(micro_clip_config());
  const train::Precision precision = train::resolve_precision(precision_name, device);
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

}  // namespace mmcl::test

namespace mmcl::test {

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

// SimCLR's model: torchvision's ResNets (layout, names, parameter counts, numbers against torchvision
// itself where the project venv has it), the projection head, two views, NT-Xent learning.

#include <fstream>
#include <map>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/io/torch_checkpoint.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/models/simclr.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

namespace {

config::ModelConfig simclr_config(VisionTower tower, int64_t width) {
  config::ModelConfig c;
  c.name = "simclr";
  c.vision.tower = tower;
  c.vision.width = width;
  c.vision.image_size = 32;
  return c;
}

std::string shape_text(at::IntArrayRef sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? "x" : "") + std::to_string(sizes[i]);
  return s.empty() ? "scalar" : s;
}

}  // namespace

CATCH_TEST_CASE("torchvision ResNets: the state dict's names and shapes, parameter counts", "[models]") {
  for (const auto& [tower, params] : std::vector<std::pair<VisionTower, int64_t>>{
           {VisionTower::resnet18, 11176512}, {VisionTower::resnet50, 23508032}}) {
    CATCH_INFO(tower);
    models::SimclrImpl model(simclr_config(tower, 64));
    int64_t count = 0;
    for (const auto& p : model.backbone->parameters()) count += p.numel();
    CATCH_CHECK(count == params);  // torchvision's resnet18 / resnet50 without fc
    // Every tensor of torchvision's state dict (fc aside), in its order, with its shape.
    std::ifstream in(fixture_path("models/torchvision_" + name_of(tower) + ".txt"));
    CATCH_REQUIRE(in);
    std::vector<std::string> expected, ours;
    for (std::string line; std::getline(in, line);) expected.push_back(line);
    std::map<std::string, std::string> shapes;
    for (const auto& p : model.backbone->named_parameters()) shapes[p.key()] = shape_text(p.value().sizes());
    for (const auto& b : model.backbone->named_buffers()) shapes[b.key()] = shape_text(b.value().sizes());
    CATCH_CHECK(shapes.size() == expected.size());
    for (const std::string& line : expected) {
      std::istringstream fields(line);
      std::string name, shape;
      fields >> name >> shape;
      CATCH_INFO(name);
      CATCH_REQUIRE(shapes.count(name) == 1);
      CATCH_CHECK(shapes[name] == shape);
    }
    CATCH_CHECK(model.embedding_dim() == (tower == VisionTower::resnet18 ? 512 : 2048));
  }
}

CATCH_TEST_CASE("torchvision ResNet weights load by torchvision's names and give torchvision's features", "[models]") {
  const fs::path python = fs::path(MMCL_SOURCE_DIR) / ".venv" / "bin" / "python";
  if (!fs::exists(python) ||
      std::system((python.string() + " -c 'import torchvision, safetensors' >/dev/null 2>&1").c_str()) != 0) {
    CATCH_WARN("SKIPPED: the project venv has no torchvision (pip install torchvision safetensors); the numbers "
               "against torchvision's ResNets are not checked here (names and shapes are)");
    return;
  }
  TempDir dir;
  CATCH_REQUIRE(std::system((python.string() + " " + (fs::path(MMCL_SOURCE_DIR) / "bench" /
                                                      "torchvision_resnet_reference.py").string() + " " +
                             dir.path().string() + " >/dev/null 2>&1").c_str()) == 0);
  for (const VisionTower tower : {VisionTower::resnet18, VisionTower::resnet50}) {
    CATCH_INFO(tower);
    models::SimclrImpl model(simclr_config(tower, 64));
    models::load_pretrained(model, (dir / (name_of(tower) + ".safetensors")).string());
    model.eval();
    std::map<std::string, at::Tensor> io;
    for (auto& [name, t] : io::load_weights((dir / (name_of(tower) + "_io.safetensors")).string())) io[name] = t;
    const at::Tensor features = model.features(io.at("input"));
    const double scale = io.at("features").abs().max().item<double>();
    CATCH_CHECK((features - io.at("features")).abs().max().item<double>() <= 1e-4 * std::max(1.0, scale));
    // Embeddings of single images are the features, normalised.
    data::Batch batch;
    batch.image = io.at("input");
    const at::Tensor e = model.forward(batch).at("image");
    CATCH_CHECK(at::allclose(e, features / features.norm(2, -1, true), 1e-5, 1e-5));
  }
}

CATCH_TEST_CASE("SimCLR: two views through backbone and head, NT-Xent falls on a fixed batch", "[models]") {
  torch::manual_seed(0);
  config::ModelConfig c = simclr_config(VisionTower::resnet18, 8);
  c.vision.small_stem = true;
  c.simclr.dim = 16;
  models::SimclrImpl model(c);
  // SimCLR's head: Linear(F, F) without bias, BatchNorm, ReLU, Linear(F, 16).
  CATCH_CHECK(model.head->size() == 4);
  CATCH_CHECK(model.head->named_parameters()["0.weight"].sizes() == at::IntArrayRef({64, 64}));
  CATCH_CHECK(model.head->named_parameters()["3.weight"].sizes() == at::IntArrayRef({16, 64}));
  CATCH_CHECK(model.input_spec().image_views == 2);
  data::Batch batch;
  batch.image = at::randn({6, 2, 3, 32, 32});
  batch.image.select(1, 1).copy_(batch.image.select(1, 0) + 0.1 * at::randn({6, 3, 32, 32}));
  const models::Embeddings e = model.forward(batch);
  CATCH_REQUIRE(e.at("image").sizes() == at::IntArrayRef({6, 16}));
  CATCH_REQUIRE(e.at("image_2").sizes() == at::IntArrayRef({6, 16}));
  CATCH_CHECK(at::allclose(e.at("image").norm(2, -1), at::ones({6}), 1e-5, 1e-5));
  // The views go through together: view 1 of sample i is row i of "image", view 2 row i of "image_2".
  model.eval();
  const models::Embeddings ev = model.forward(batch);
  data::Batch second;
  second.image = batch.image.select(1, 1).contiguous();
  const at::Tensor z2 = models::l2_normalize(model.head->forward(model.features(second.image)));
  CATCH_CHECK(at::allclose(ev.at("image_2"), z2, 1e-4, 1e-5));
  model.train();
  config::LossConfig lc;
  lc.name = "ntxent";
  const auto loss = losses::make_loss(lc);
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(1e-3));
  const double first = loss->operator()(model.forward(batch)).total.item<double>();
  double last = first;
  for (int step = 0; step < 15; ++step) {
    opt.zero_grad();
    const at::Tensor l = loss->operator()(model.forward(batch)).total;
    l.backward();
    opt.step();
    last = l.item<double>();
  }
  CATCH_CHECK(last < first - 0.1);
  // The ViT as the backbone: its output after the projection to embed_dim.
  c.vision.tower = VisionTower::vit;
  c.vision.width = 32;
  c.vision.layers = 1;
  c.vision.patch_size = 8;
  c.vision.head_width = 16;
  c.embed_dim = 24;
  models::SimclrImpl vit(c);
  CATCH_CHECK(vit.embedding_dim() == 24);
  CATCH_CHECK(vit.forward(batch).at("image_2").sizes() == at::IntArrayRef({6, 16}));
}

CATCH_TEST_CASE("SimCLR: torchvision-named weights fill the backbone, the head starts fresh, its own names win", "[models]") {
  torch::manual_seed(1);
  config::ModelConfig c = simclr_config(VisionTower::resnet18, 4);
  models::SimclrImpl source(c), target(c);
  io::NamedTensors tv;
  for (const auto& [name, t] : models::named_weights(source))
    if (name.rfind("backbone.", 0) == 0) tv.emplace_back(name.substr(9), t);
  tv.emplace_back("fc.weight", at::zeros({10, 32}));
  tv.emplace_back("fc.bias", at::zeros({10}));
  TempDir dir;
  io::save_safetensors((dir / "tv.safetensors").string(), tv);
  const at::Tensor head_before = target.head->named_parameters()["0.weight"].clone();
  models::load_pretrained(target, (dir / "tv.safetensors").string());
  CATCH_CHECK(at::equal(target.backbone->conv1->weight, source.backbone->conv1->weight));
  CATCH_CHECK(at::equal(target.backbone->named_buffers()["layer4.1.bn2.running_var"],
                        source.backbone->named_buffers()["layer4.1.bn2.running_var"]));
  CATCH_CHECK(at::equal(target.head->named_parameters()["0.weight"], head_before));
  // A state dict of the model itself (backbone.*, head.*) loads as it is.
  models::SimclrImpl again(c);
  io::save_safetensors((dir / "own.safetensors").string(), models::named_weights(source));
  models::load_pretrained(again, (dir / "own.safetensors").string());
  CATCH_CHECK(at::equal(again.head->named_parameters()["3.weight"], source.head->named_parameters()["3.weight"]));
}

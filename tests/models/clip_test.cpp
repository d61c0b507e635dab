#include <cmath>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/models/clip.h"
#include "mmcl/models/pretrained.h"
#include "fixtures.h"

using mmcl::models::ClipImpl;

namespace {

std::map<std::string, at::Tensor> tensor_map(const std::filesystem::path& path) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, t] : mmcl::io::load_safetensors(path).tensors) out[name] = t;
  return out;
}

mmcl::config::ModelConfig tiny_config() {
  mmcl::config::ModelConfig c;
  c.embed_dim = 16;
  c.vision.image_size = 32;
  c.vision.patch_size = 8;
  c.vision.width = 32;
  c.vision.layers = 2;
  c.vision.head_width = 16;
  c.text.context_length = 10;
  c.text.vocab_size = 50;
  c.text.width = 32;
  c.text.heads = 2;
  c.text.layers = 2;
  return c;
}

// ids: [start, words..., end (the largest id), 0 padding]
at::Tensor caption(const std::vector<int64_t>& words, int64_t context, int64_t vocab) {
  std::vector<int64_t> ids{vocab - 2};
  ids.insert(ids.end(), words.begin(), words.end());
  ids.push_back(vocab - 1);
  ids.resize(static_cast<size_t>(context), 0);
  return at::tensor(ids, at::kLong).unsqueeze(0);
}

// The model's tensors (parameters and buffers) are exactly those listed in open_clip's safetensors file
// (its header: an 8-byte little-endian length, then JSON), with the same shapes. Returns ours.
std::map<std::string, std::vector<int64_t>> check_open_clip_names(torch::nn::Module& model,
                                                                  const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), 8);
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  const auto tensors = nlohmann::json::parse(header);
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& [name, t] : mmcl::models::named_weights(model)) ours[name] = t.sizes().vec();
  size_t matched = 0;
  for (const auto& [name, info] : tensors.items()) {
    if (name == "__metadata__" || name == "attn_mask") continue;
    CATCH_CAPTURE(name);
    CATCH_REQUIRE(ours.count(name) == 1);
    CATCH_CHECK(ours[name] == info["shape"].get<std::vector<int64_t>>());
    ++matched;
  }
  CATCH_CHECK(matched == ours.size());  // and none of ours is missing from open_clip's
  return ours;
}

}  // namespace

CATCH_TEST_CASE("the causal mask lets token i see tokens 0..i only", "[models]") {
  const at::Tensor mask = mmcl::models::causal_mask(4, at::TensorOptions().dtype(at::kFloat));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      const float v = mask[i][j].item<float>();
      if (j <= i) CATCH_CHECK(v == 0.0f);
      else CATCH_CHECK(std::isinf(v));
    }

  // Changing a later token leaves every earlier position of the text transformer untouched.
  torch::manual_seed(0);
  ClipImpl model(tiny_config());
  model.eval();
  torch::NoGradGuard no_grad;
  const at::Tensor ids = caption({5, 6, 7, 8}, 10, 50);
  at::Tensor changed = ids.clone();
  changed[0][4] = 9;
  auto hidden = [&](const at::Tensor& t) {
    const at::Tensor x = model.token_embedding(t) + model.positional_embedding;
    return model.transformer(x, mmcl::models::causal_mask(10, x.options()));
  };
  const at::Tensor h1 = hidden(ids), h2 = hidden(changed);
  CATCH_CHECK(at::allclose(h1.slice(1, 0, 4), h2.slice(1, 0, 4)));
  CATCH_CHECK(!at::allclose(h1.slice(1, 4, 5), h2.slice(1, 4, 5)));
}

CATCH_TEST_CASE("text features are taken at the end-of-text token", "[models]") {
  torch::manual_seed(1);
  ClipImpl model(tiny_config());
  model.eval();
  torch::NoGradGuard no_grad;
  const at::Tensor ids = at::cat({caption({3, 4}, 10, 50), caption({7, 8, 9, 10, 11}, 10, 50)});
  const at::Tensor features = model.encode_text(ids, /*normalize=*/false);

  // By hand: final LN of the transformer output at the position of the largest id, projected.
  const at::Tensor x = model.token_embedding(ids) + model.positional_embedding;
  const at::Tensor h = model.ln_final(model.transformer(x, mmcl::models::causal_mask(10, x.options())));
  const at::Tensor expected = at::stack({at::matmul(h[0][3], model.text_projection),
                                         at::matmul(h[1][6], model.text_projection)});
  CATCH_CHECK(at::allclose(features, expected, 1e-5, 1e-6));

  // Padding after the end token does not matter; a word before it does.
  at::Tensor padded = ids.clone();
  padded[0][8] = 17;
  CATCH_CHECK(at::allclose(model.encode_text(padded, false), features, 1e-5, 1e-6));
  at::Tensor word = ids.clone();
  word[0][1] = 17;
  CATCH_CHECK(!at::allclose(model.encode_text(word, false)[0], features[0]));

  // Normalised embeddings have unit norm.
  const at::Tensor unit = model.encode_text(ids);
  CATCH_CHECK(at::allclose(unit.norm(2, -1), at::ones({2})));
}

CATCH_TEST_CASE("CLIP forward gives unit image and text embeddings and a clamped logit scale", "[models]") {
  torch::manual_seed(2);
  auto config = tiny_config();
  ClipImpl model(config);
  mmcl::data::Batch batch;
  batch.image = at::randn({3, 3, 32, 32});
  batch.text = at::cat({caption({1}, 10, 50), caption({2, 3}, 10, 50), caption({4, 5, 6}, 10, 50)});
  batch.indices = {0, 1, 2};
  const auto e = model.forward(batch);
  CATCH_CHECK(e.at("image").sizes() == at::IntArrayRef({3, 16}));
  CATCH_CHECK(e.at("text").sizes() == at::IntArrayRef({3, 16}));
  CATCH_CHECK(at::allclose(e.at("image").norm(2, -1), at::ones({3})));
  CATCH_CHECK(e.logit_scale.item<double>() == Approx(1 / 0.07).epsilon(1e-5));

  {
    torch::NoGradGuard no_grad;
    model.logit_scale.fill_(10.0);
  }
  model.after_step();
  CATCH_CHECK(model.logit_scale.item<double>() == Approx(std::log(100.0)).epsilon(1e-6));
}

CATCH_TEST_CASE("parameter names and shapes are open_clip's", "[models][fixtures]") {
  const auto shared = mmcl::test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared/fixtures not found; open_clip name parity not checked");
    return;
  }
  const auto dir = shared / "fixtures" / "openclip_vit_tiny";
  // The fixture's open_clip model config, as mmcl keys.
  const auto oc = nlohmann::json::parse(mmcl::test::read_text(dir / "model_config.json"));
  mmcl::config::ModelConfig c;
  c.embed_dim = oc["embed_dim"];
  c.vision.image_size = oc["vision_cfg"]["image_size"];
  c.vision.layers = oc["vision_cfg"]["layers"];
  c.vision.width = oc["vision_cfg"]["width"];
  c.vision.head_width = oc["vision_cfg"]["head_width"];
  c.vision.patch_size = oc["vision_cfg"]["patch_size"];
  c.vision.mlp_ratio = oc["vision_cfg"]["mlp_ratio"];
  c.text.context_length = oc["text_cfg"]["context_length"];
  c.text.vocab_size = oc["text_cfg"]["vocab_size"];
  c.text.width = oc["text_cfg"]["width"];
  c.text.heads = oc["text_cfg"]["heads"];
  c.text.layers = oc["text_cfg"]["layers"];
  ClipImpl model(c);

  check_open_clip_names(model, dir / "open_clip_weights.safetensors");
}

CATCH_TEST_CASE("with open_clip's weights the embeddings match open_clip's outputs", "[models][fixtures]") {
  const auto shared = mmcl::test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared/fixtures not found; open_clip numeric parity not checked");
    return;
  }
  const auto dir = shared / "fixtures" / "openclip_vit_tiny";
  mmcl::config::ModelConfig c;
  c.embed_dim = 64;
  c.vision.image_size = 64;
  c.vision.patch_size = 16;
  c.vision.width = 96;
  c.vision.layers = 2;
  c.vision.head_width = 32;
  c.vision.mlp_ratio = 4.0;
  c.text = {77, 49408, 64, 2, 2, 4.0};
  ClipImpl model(c);
  const auto weights = tensor_map(dir / "open_clip_weights.safetensors");
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model.named_parameters()) p.value().copy_(weights.at(p.key()).view(p.value().sizes()));
  }
  mmcl::test::check_open_clip_outputs(model, dir);
}

CATCH_TEST_CASE("the ModifiedResNet tower: open_clip's names, shapes and outputs from its JSON config and weights",
                "[models][fixtures]") {
  const auto shared = mmcl::test::shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared/fixtures not found; the ResNet tower's open_clip parity not checked");
    return;
  }
  const auto dir = shared / "fixtures" / "openclip_rn_tiny";
  // open_clip's own JSON through mmcl's preset loader: layers [1, 1, 1, 1] is the ResNet tower.
  const auto config = mmcl::config::load_config_text(
      "model: {preset: " + (dir / "model_config.json").string() + "}\n", "rn.yaml", {});
  CATCH_REQUIRE(config.model.vision.tower == mmcl::VisionTower::resnet);
  CATCH_CHECK(config.model.vision.resnet_layers == std::array<int64_t, 4>{1, 1, 1, 1});
  CATCH_CHECK(config.model.quick_gelu);
  ClipImpl model(config.model);
  CATCH_REQUIRE(model.visual_rn);
  CATCH_CHECK(!model.visual);

  // Every tensor of open_clip's state dict (BatchNorm buffers included) and nothing else, shapes equal.
  const auto ours = check_open_clip_names(model, dir / "open_clip_weights.safetensors");
  CATCH_CHECK(ours.count("visual.layer2.0.downsample.0.weight") == 1);  // the "-1" avgpool has no tensor
  CATCH_CHECK(ours.count("visual.attnpool.positional_embedding") == 1);
  CATCH_CHECK(ours.count("visual.bn1.running_var") == 1);

  // Both of open_clip's files, then open_clip's embeddings and logits (BatchNorm in eval mode).
  for (const std::string file : {"open_clip_weights.safetensors", "open_clip_weights.pt"}) {
    CATCH_INFO(file);
    ClipImpl fresh(config.model);
    mmcl::models::load_pretrained(fresh, (dir / file).string());
    mmcl::test::check_open_clip_outputs(fresh, dir);
  }
}

CATCH_TEST_CASE("the ModifiedResNet tower: shapes, open_clip's initialisation, and its config errors", "[models]") {
  mmcl::config::ModelConfig c;
  c.embed_dim = 24;
  c.vision.tower = mmcl::VisionTower::resnet;
  c.vision.resnet_layers = {1, 2, 1, 1};
  c.vision.width = 8;
  c.vision.head_width = 32;
  c.vision.image_size = 64;
  c.text = {};
  c.text.width = 16;
  c.text.heads = 2;
  c.text.layers = 1;
  c.text.vocab_size = 50;
  c.text.context_length = 8;
  torch::manual_seed(0);
  ClipImpl model(c);
  model.eval();
  const at::Tensor images = at::randn({3, 3, 64, 64});
  CATCH_CHECK(model.visual_rn->features(images).sizes() == at::IntArrayRef({3, 256, 2, 2}));
  CATCH_CHECK(model.encode_image(images).sizes() == at::IntArrayRef({3, 24}));
  CATCH_CHECK(model.image_tokens(images).sizes() == at::IntArrayRef({3, 4, 256}));
  CATCH_CHECK(model.visual_rn->attnpool->heads == 8);  // 32 x 8 / 32
  CATCH_CHECK(model.visual_rn->layer2->size() == 2);
  // Each block's last BatchNorm starts at zero: a block starts as its shortcut.
  CATCH_CHECK(model.visual_rn->layer3[0]->as<mmcl::models::BottleneckImpl>()->bn3->weight.abs().sum().item<double>() == 0);
  // Parameters: stem 3 convs + BNs, blocks, the attention pool.
  int64_t count = 0;
  for (const auto& p : model.visual_rn->parameters()) count += p.numel();
  const auto bottleneck = [](int64_t in, int64_t planes, bool down) {
    int64_t n = in * planes + 9 * planes * planes + planes * 4 * planes + 2 * (planes + planes + 4 * planes);
    if (down) n += in * 4 * planes + 2 * 4 * planes;
    return n;
  };
  const int64_t stem = 3 * 4 * 9 + 4 * 4 * 9 + 4 * 8 * 9 + 2 * (4 + 4 + 8);
  const int64_t blocks = bottleneck(8, 8, true) + bottleneck(32, 16, true) + bottleneck(64, 16, false) +
                         bottleneck(64, 32, true) + bottleneck(128, 64, true);
  const int64_t pool = 5 * 256 + 3 * (256 * 256 + 256) + 256 * 24 + 24;
  CATCH_CHECK(count == stem + blocks + pool);

  for (const auto& [set, key] : std::vector<std::pair<std::string, std::string>>{
           {"model.vision.image_size=48", "model.vision.image_size"},
           {"model.vision.width=7", "model.vision.width"},
           {"model.vision.head_width=3", "model.vision.head_width"},
           {"model.vision.resnet_layers=[1,1,1]", "model.vision.resnet_layers"}}) {
    CATCH_INFO(set);
    try {
      (void)mmcl::config::load_resolved_config("model: {vision: {tower: resnet, width: 8, image_size: 64}}\n", "rn.yaml",
                                               {set});
      CATCH_FAIL("accepted");
    } catch (const mmcl::ConfigError& e) {
      CATCH_CHECK(std::string(e.what()).find(key + ":") != std::string::npos);
    }
  }
}

CATCH_TEST_CASE("LiT: lock_image freezes the image tower but its last N groups, as open_clip's lock_image_tower",
                "[models]") {
  const auto trainable = [](torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.requires_grad();
    return n;
  };
  // ViT: groups [conv1, class and positional embeddings, ln_pre], blocks 0..L-2, [block L-1, ln_post], [proj].
  mmcl::config::ModelConfig vit = mmcl::test::micro_clip_config();
  vit.vision.layers = 3;
  ClipImpl a(vit);
  const int64_t block = static_cast<int64_t>(a.visual->transformer->resblocks[0]->parameters().size());
  const auto visual_tensors = static_cast<int64_t>(a.visual->parameters().size());
  CATCH_CHECK(a.lock_image(0) == visual_tensors);
  CATCH_CHECK(trainable(*a.visual) == 0);
  CATCH_CHECK(a.text_projection.requires_grad());
  ClipImpl b(vit);
  b.lock_image(2);  // [last block, ln_post] and proj train
  CATCH_CHECK(trainable(*b.visual) == block + 2 + 1);
  CATCH_CHECK(b.visual->proj.requires_grad());
  CATCH_CHECK(!b.visual->conv1->weight.requires_grad());
  ClipImpl c(vit);
  c.lock_image(100);  // more groups than there are: nothing frozen
  CATCH_CHECK(trainable(*c.visual) == static_cast<int64_t>(c.visual->parameters().size()));
  // ResNet: [stem], layer1..4, attnpool.
  mmcl::config::ModelConfig rn = vit;
  rn.vision.tower = mmcl::VisionTower::resnet;
  rn.vision.resnet_layers = {1, 1, 1, 1};
  rn.vision.width = 8;
  rn.vision.head_width = 32;
  rn.vision.image_size = 32;
  ClipImpl r(rn);
  r.lock_image(2);
  CATCH_CHECK(trainable(*r.visual_rn) ==
              static_cast<int64_t>(r.visual_rn->layer4->parameters().size() + r.visual_rn->attnpool->parameters().size()));
  CATCH_CHECK(!r.visual_rn->layer3[0]->as<mmcl::models::BottleneckImpl>()->conv1->weight.requires_grad());
}

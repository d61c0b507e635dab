#include <cmath>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/models/clip.h"
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

  // The safetensors header (8-byte little-endian length, then JSON) lists open_clip's tensors.
  std::ifstream in(dir / "open_clip_weights.safetensors", std::ios::binary);
  uint64_t header_size = 0;
  in.read(reinterpret_cast<char*>(&header_size), 8);
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  const auto tensors = nlohmann::json::parse(header);

  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& p : model.named_parameters()) ours[p.key()] = p.value().sizes().vec();
  size_t matched = 0;
  for (const auto& [name, info] : tensors.items()) {
    if (name == "__metadata__" || name == "attn_mask") continue;
    CATCH_CAPTURE(name);
    CATCH_REQUIRE(ours.count(name) == 1);
    CATCH_CHECK(ours[name] == info["shape"].get<std::vector<int64_t>>());
    ++matched;
  }
  CATCH_CHECK(matched == ours.size());  // and none of ours is missing from open_clip's
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
  c.vision = {64, 16, 96, 2, 32, 4.0};
  c.text = {77, 49408, 64, 2, 2, 4.0};
  ClipImpl model(c);
  const auto weights = tensor_map(dir / "open_clip_weights.safetensors");
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model.named_parameters()) p.value().copy_(weights.at(p.key()).view(p.value().sizes()));
  }
  mmcl::test::check_open_clip_outputs(model, dir);
}

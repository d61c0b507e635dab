// VATT on a tiny configuration: the outputs and their shapes for both backbones, the shared transformer
// of the modality-agnostic backbone, DropToken, evaluation against training, padded words left out of
// the attention, and gradients that reach every parameter.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/autograd.h>
#include <torch/utils.h>

#include "mmcl/core/catalog.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/models/transformer.h"
#include "mmcl/models/vatt.h"
#include "mmcl/text/tokenizer.h"
#include "util.h"

using namespace mmcl;

namespace {

config::ModelConfig tiny_vatt(VattBackbone backbone, double droptoken = 0.5) {
  config::ModelConfig c;
  c.name = "vatt";
  c.video.frames = 4;
  c.video.size = 16;
  c.text.context_length = 6;
  c.text.vocab_size = 20;
  config::VattConfig& v = c.vatt;
  v.backbone = backbone;
  v.width = 16;
  v.heads = 2;
  v.layers = 1;
  v.mlp_ratio = 2;
  v.video_patch = {2, 8, 8};
  v.audio_patch = 32;
  v.audio_samples = 256;
  v.video_droptoken = droptoken;
  v.audio_droptoken = droptoken;
  v.va_dim = 8;
  v.vt_dim = 4;
  v.text.width = 12;  // the T5 text tower (with backbone specific): its own width
  v.text.heads = 3;
  v.text.layers = 1;
  v.text.mlp_ratio = 2;
  v.text.relative_buckets = 8;
  v.text.relative_max_distance = 16;
  return c;
}

// Video, audio and two captions per sample (four words, then padding); sample 1 lacks its second caption.
data::Batch tiny_batch(int64_t n) {
  data::Batch b;
  b.video = at::randn({n, 4, 3, 16, 16});
  b.audio = at::randn({n, 256});
  b.text = at::zeros({n, 2, 6}, at::kLong);
  b.text.slice(2, 0, 4).copy_(at::randint(1, 20, {n, 2, 4}, at::kLong));
  b.text[1][1].zero_();
  for (int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  return b;
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

bool unit_rows(const at::Tensor& x) {
  return at::allclose(x.norm(2, -1), at::ones({x.size(0)}), 1e-5, 1e-5);
}

}  // namespace

CATCH_TEST_CASE("VATT: embeddings per modality, shapes and norms, for both backbones", "[models]") {
  for (const VattBackbone backbone : {VattBackbone::specific, VattBackbone::agnostic}) {
    CATCH_INFO("backbone " << backbone);
    torch::manual_seed(0);
    const config::ModelConfig c = tiny_vatt(backbone);
    const models::ModelPtr model = models::make_model(c);
    CATCH_CHECK(model->embedding_dim() == 4);
    CATCH_CHECK(model_capabilities("vatt").eval_input == Modality::video);
    CATCH_CHECK(model_capabilities("vatt").has(Modality::text));
    const data::InputSpec spec = model->input_spec();
    CATCH_CHECK(spec.video_frames == 4);
    CATCH_CHECK(spec.video_size == 16);
    CATCH_CHECK(spec.video_views == 1);
    CATCH_CHECK(spec.audio_samples == 256);
    CATCH_CHECK(spec.audio_rate == 16000);
    CATCH_CHECK(spec.context_length == 6);
    CATCH_CHECK(spec.vocab_size == 20);

    const data::Batch b = tiny_batch(3);
    const models::Embeddings e = model->forward(b);
    CATCH_CHECK(e.at("video").sizes() == at::IntArrayRef({3, 4}));
    CATCH_CHECK(e.at("video_va").sizes() == at::IntArrayRef({3, 8}));
    CATCH_CHECK(e.at("audio").sizes() == at::IntArrayRef({3, 8}));
    CATCH_CHECK(e.at("text").sizes() == at::IntArrayRef({3, 2, 4}));
    CATCH_CHECK(e.at("text_mask").sizes() == at::IntArrayRef({3, 2}));
    CATCH_CHECK(e.at("text_mask").scalar_type() == at::kFloat);
    CATCH_CHECK(e.at("text_mask").equal(at::tensor({1.f, 1.f, 1.f, 0.f, 1.f, 1.f}).view({3, 2})));
    CATCH_CHECK(unit_rows(e.at("video")));
    CATCH_CHECK(unit_rows(e.at("video_va")));
    CATCH_CHECK(unit_rows(e.at("audio")));
    CATCH_CHECK(at::allclose(e.at("text").norm(2, -1), e.at("text_mask"), 1e-5, 1e-5));
    CATCH_CHECK(e.at("text")[1][1].abs().max().item<float>() == 0.f);
    CATCH_CHECK(e.logit_scale.dim() == 0);
    CATCH_CHECK(e.logit_scale.item<float>() == 0.f);

    // One caption per row [N, L], and each modality alone.
    data::Batch words;
    words.text = b.text.select(1, 0);
    const models::Embeddings t = model->forward(words);
    CATCH_CHECK(t.at("text").sizes() == at::IntArrayRef({3, 4}));
    CATCH_CHECK(unit_rows(t.at("text")));
    CATCH_CHECK(t.by_modality.count("text_mask") == 0);
    CATCH_CHECK(t.by_modality.count("video") == 0);
    data::Batch sound;
    sound.audio = b.audio;
    const models::Embeddings a = model->forward(sound);
    CATCH_CHECK(a.by_modality.size() == 1);
    CATCH_CHECK(a.at("audio").sizes() == at::IntArrayRef({3, 8}));
    CATCH_CHECK_THROWS_AS(model->forward(data::Batch{}), mmcl::Error);
  }
}

CATCH_TEST_CASE("VATT: the configuration is checked where it is loaded, naming the key", "[models][config]") {
  // The constructor trusts its config: every shape rule is a config error (file:line, key, exit 2).
  const std::string yaml = "model:\n  name: vatt\n  video: {frames: 4, size: 16}\n"
                           "  vatt: {width: 16, heads: 2, layers: 1, video_patch: [2, 8, 8], audio_patch: 32,"
                           " audio_samples: 256}\nloss: {name: vatt}\ndata: {type: video, train: x.csv}\n";
  // The YAML as given builds (no file check: resolved configs are not checked against the disk).
  CATCH_CHECK_NOTHROW(models::make_model(config::load_resolved_config(yaml, "vatt.yaml").model));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"model.video.frames=5", "model.vatt.video_patch"},     {"model.video.size=20", "model.vatt.video_patch"},
      {"model.vatt.audio_samples=250", "model.vatt.audio_samples"}, {"model.vatt.heads=3", "model.vatt.width"},
      {"model.vatt.video_droptoken=1", "model.vatt.video_droptoken"},
      {"model.vatt.audio_droptoken=1", "model.vatt.audio_droptoken"},
      {"model.vatt.backbone=shared", "model.vatt.backbone"},
      {"model.vatt.text.heads=5", "model.vatt.text.width"},
      {"model.vatt.text.embeddings=w2v.bin", "model.vatt.text.embedding_dim"},
      {"model.vatt.text.tower=t6", "model.vatt.text.tower"}};
  for (const auto& [set, key] : bad) {
    CATCH_INFO(set);
    try {
      (void)config::load_resolved_config(yaml, "vatt.yaml", {set});
      CATCH_FAIL("accepted");
    } catch (const ConfigError& e) {
      CATCH_CHECK(std::string(e.what()).find(key + ":") != std::string::npos);
      CATCH_CHECK(e.exit_code() == kExitUsage);
    }
  }
}

CATCH_TEST_CASE("VATT-MA shares one transformer across the modalities", "[models]") {
  // Against modality-specific transformers with the same text tower (the backbone's).
  config::ModelConfig three = tiny_vatt(VattBackbone::specific);
  three.vatt.text.tower = VattTextTower::backbone;
  const models::VattImpl specific(three);
  const models::VattImpl agnostic(tiny_vatt(VattBackbone::agnostic));
  const models::Transformer one(16, 1, 2, 2.0, models::Activation::kGelu);
  CATCH_CHECK(parameter_count(agnostic) == parameter_count(specific) - 2 * parameter_count(*one));
  CATCH_CHECK(agnostic.video_transformer.get() == agnostic.audio_transformer.get());
  CATCH_CHECK(agnostic.video_transformer.get() == agnostic.text_transformer.get());
  CATCH_CHECK(specific.video_transformer.get() != specific.audio_transformer.get());
}

CATCH_TEST_CASE("DropToken keeps a random ordered subset of each sample's tokens", "[models]") {
  torch::manual_seed(7);
  const int64_t batch = 8, tokens = 16, width = 3;
  // Channel 0 holds the token's position, the others random values.
  at::Tensor x = at::randn({batch, tokens, width});
  x.select(2, 0).copy_(at::arange(tokens, at::kFloat).expand({batch, tokens}));
  CATCH_CHECK(models::drop_tokens(x, 0).is_same(x));
  const std::vector<std::pair<double, int64_t>> cases = {{0.0, 16}, {0.25, 12}, {0.5, 8}, {0.75, 4}};
  for (const auto& [rate, kept] : cases) {
    CATCH_INFO("rate " << rate);
    const at::Tensor y = models::drop_tokens(x, rate);
    CATCH_REQUIRE(y.sizes() == at::IntArrayRef({batch, kept, width}));
    const at::Tensor index = y.select(2, 0).round().to(at::kLong);  // [B, n]
    // Distinct and in their original order: strictly increasing positions.
    if (kept > 1) CATCH_CHECK((index.slice(1, 1) > index.slice(1, 0, -1)).all().item<bool>());
    // Each kept token is the input token at that position of the same sample.
    CATCH_CHECK(y.equal(x.gather(1, index.unsqueeze(-1).expand({batch, kept, width}))));
    if (kept < tokens) {
      std::set<std::vector<int64_t>> subsets;
      for (int64_t i = 0; i < batch; ++i) {
        const at::Tensor row = index[i].contiguous();
        subsets.insert(std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + kept));
      }
      CATCH_CHECK(subsets.size() > 1);
    }
  }
  CATCH_CHECK(models::drop_tokens(at::randn({2, 2, 3}), 0.9).size(1) == 1);  // at least one token
  CATCH_CHECK_THROWS_AS(models::drop_tokens(x, 1.0), mmcl::Error);
}

CATCH_TEST_CASE("VATT: evaluation is deterministic, DropToken acts only while training", "[models]") {
  torch::manual_seed(3);
  const data::Batch b = tiny_batch(4);
  const auto model = std::make_shared<models::VattImpl>(tiny_vatt(VattBackbone::specific, 0.5));
  model->eval();
  const models::Embeddings first = model->forward(b);
  const models::Embeddings second = model->forward(b);
  for (const auto& [name, value] : first.by_modality) CATCH_CHECK(value.equal(second.at(name)));
  model->train();
  const models::Embeddings trained = model->forward(b);
  // video_va comes before the BatchNorm, so only DropToken tells training from evaluation.
  CATCH_CHECK(!at::allclose(trained.at("video_va"), first.at("video_va"), 1e-4, 1e-4));
  CATCH_CHECK(!at::allclose(trained.at("audio"), first.at("audio"), 1e-4, 1e-4));
  CATCH_CHECK(at::allclose(trained.at("text"), first.at("text"), 1e-6, 1e-6));

  // Without DropToken training and evaluation agree before the BatchNorms (audio's space has none; video's
  // FAC projection has two).
  const auto keep = std::make_shared<models::VattImpl>(tiny_vatt(VattBackbone::specific, 0.0));
  keep->train();
  const models::Embeddings t = keep->forward(b);
  keep->eval();
  const models::Embeddings v = keep->forward(b);
  CATCH_CHECK(at::allclose(t.at("audio"), v.at("audio"), 1e-6, 1e-6));
}

CATCH_TEST_CASE("VATT's FAC head: video to va through Linear (no bias), BatchNorm, ReLU, Linear, BatchNorm", "[models]") {
  const config::ModelConfig c = tiny_vatt(VattBackbone::specific);
  const models::VattImpl model(c);
  std::vector<std::string> kinds;
  for (const auto& m : model.video_va->children()) {
    if (auto l = m->as<torch::nn::LinearImpl>()) kinds.push_back(l->options.bias() ? "linear" : "linear-no-bias");
    else if (m->as<torch::nn::BatchNorm1dImpl>()) kinds.push_back("batchnorm");
    else if (m->as<torch::nn::ReLUImpl>()) kinds.push_back("relu");
  }
  CATCH_CHECK(kinds == std::vector<std::string>{"linear-no-bias", "batchnorm", "relu", "linear", "batchnorm"});
  CATCH_CHECK(model.audio_va->options.out_features() == c.vatt.va_dim);
}

CATCH_TEST_CASE("VATT: padded words are never attended to", "[models]") {
  for (const VattBackbone backbone : {VattBackbone::specific, VattBackbone::agnostic}) {
    CATCH_INFO("backbone " << backbone);
    torch::manual_seed(5);
    const auto model = std::make_shared<models::VattImpl>(tiny_vatt(backbone));
    model->eval();
    const at::Tensor caption = at::tensor({3, 7, 9, 0, 0, 0}, at::kLong).view({1, 6});
    const auto embed = [&](const at::Tensor& ids) {
      data::Batch b;
      b.text = ids;
      return model->forward(b).at("text");
    };
    const at::Tensor alone = embed(caption);
    const at::Tensor longer = embed(at::cat({caption, at::tensor({5, 6, 7, 8, 11, 0}, at::kLong).view({1, 6})}));
    const at::Tensor shorter = embed(at::cat({at::tensor({4, 0, 0, 0, 0, 0}, at::kLong).view({1, 6}), caption}));
    CATCH_CHECK(at::allclose(longer[0], alone[0], 0, 1e-6));
    CATCH_CHECK(at::allclose(shorter[1], alone[0], 0, 1e-6));
    // The same words without any padding.
    CATCH_CHECK(at::allclose(embed(caption.slice(1, 0, 3))[0], alone[0], 0, 1e-6));
    // The words themselves do matter.
    CATCH_CHECK(!at::allclose(embed(at::tensor({3, 7, 8, 0, 0, 0}, at::kLong).view({1, 6}))[0], alone[0], 0, 1e-4));
  }
}

CATCH_TEST_CASE("VATT: a training step reaches every parameter", "[models]") {
  for (const VattBackbone backbone : {VattBackbone::specific, VattBackbone::agnostic}) {
    CATCH_INFO("backbone " << backbone);
    torch::manual_seed(11);
    const auto model = std::make_shared<models::VattImpl>(tiny_vatt(backbone));
    model->train();
    const data::Batch b = tiny_batch(4);
    const models::Embeddings e = model->forward(b);
    const at::Tensor loss = (e.at("video_va") * e.at("audio")).sum() +
                            (e.at("video").unsqueeze(1) * e.at("text") * e.at("text_mask").unsqueeze(-1)).sum();
    loss.backward();
    for (const auto& p : model->named_parameters()) {
      CATCH_INFO("parameter " << p.key());
      CATCH_REQUIRE(p.value().grad().defined());
      CATCH_CHECK(p.value().grad().abs().sum().item<double>() > 0);
    }
    if (backbone == VattBackbone::agnostic) {
      // The shared transformer learns from each modality on its own.
      const std::vector<at::Tensor> shared = model->video_transformer->parameters();
      for (const std::string modality : {"video", "audio", "text"}) {
        CATCH_INFO("modality " << modality);
        const models::Embeddings f = model->forward(b);
        const at::Tensor g = f.at(modality);
        const auto grads = torch::autograd::grad({(g * at::randn(g.sizes())).sum()}, shared, {}, false, false, true);
        double total = 0;
        for (const auto& grad : grads)
          if (grad.defined()) total += grad.abs().sum().item<double>();
        CATCH_CHECK(total > 0);
      }
    }
  }
}

CATCH_TEST_CASE("VATT dropout acts while training only", "[models]") {
  torch::manual_seed(4);
  const data::Batch b = tiny_batch(4);
  config::ModelConfig c = tiny_vatt(VattBackbone::specific, 0.0);
  c.vatt.dropout = 0.1;
  const auto model = std::make_shared<models::VattImpl>(c);
  model->train();
  const models::Embeddings a = model->forward(b), a2 = model->forward(b);
  CATCH_CHECK(!at::allclose(a.at("audio"), a2.at("audio"), 1e-5, 1e-5));
  CATCH_CHECK(!at::allclose(a.at("text"), a2.at("text"), 1e-5, 1e-5));
  model->eval();
  const models::Embeddings e = model->forward(b), e2 = model->forward(b);
  CATCH_CHECK(at::equal(e.at("audio"), e2.at("audio")));
  CATCH_CHECK(at::equal(e.at("text"), e2.at("text")));
}

CATCH_TEST_CASE("VATT's text tower: T5 of its own width with backbone specific, the shared transformer with agnostic",
                "[models]") {
  torch::manual_seed(8);
  const auto specific = std::make_shared<models::VattImpl>(tiny_vatt(VattBackbone::specific));
  CATCH_REQUIRE(specific->text_t5);
  CATCH_CHECK(!specific->text_transformer);
  CATCH_CHECK(!specific->text_pos.defined());
  CATCH_CHECK(specific->text_embed->weight.sizes() == at::IntArrayRef({20, 12}));
  CATCH_CHECK(specific->text_vt->weight.sizes() == at::IntArrayRef({4, 12}));
  CATCH_CHECK(specific->text_t5->blocks->size() == 1);
  // Its parameters: word vectors, aggregation token, the encoder, the projection to vt.
  int64_t t5 = 0;
  for (const auto& p : specific->text_t5->parameters()) t5 += p.numel();
  const int64_t block = 12 + 2 * 12 + 4 * 12 * 12 + 2 * 12 * 24;
  CATCH_CHECK(t5 == block + 8 * 3 + 12);
  const auto agnostic = std::make_shared<models::VattImpl>(tiny_vatt(VattBackbone::agnostic));
  CATCH_CHECK(!agnostic->text_t5);
  CATCH_CHECK(agnostic->text_transformer.ptr() == agnostic->video_transformer.ptr());
  CATCH_CHECK(agnostic->text_embed->weight.size(1) == 16);
  // tower: backbone with specific gives the old arrangement: a transformer of the video's width.
  config::ModelConfig c = tiny_vatt(VattBackbone::specific);
  c.vatt.text.tower = VattTextTower::backbone;
  const auto own = std::make_shared<models::VattImpl>(c);
  CATCH_CHECK(!own->text_t5);
  CATCH_CHECK(own->text_transformer.ptr() != own->video_transformer.ptr());
  CATCH_CHECK(own->text_vt->weight.size(1) == 16);
  // t5 with a shared transformer is refused where the config is loaded.
  try {
    (void)config::load_resolved_config("model: {name: vatt, vatt: {backbone: agnostic, text: {tower: t5}}}\n"
                                       "loss: {name: vatt}\ndata: {type: video, train: x.csv}\n",
                                       "run.yaml", {});
    CATCH_FAIL("no error");
  } catch (const ConfigError& e) {
    CATCH_CHECK(std::string(e.what()).find("model.vatt.text.tower") != std::string::npos);
  }
}

CATCH_TEST_CASE("VATT word vectors: projected to the tower, frozen on request, started from a word2vec file",
                "[models]") {
  torch::manual_seed(9);
  config::ModelConfig c = tiny_vatt(VattBackbone::specific);
  c.vatt.text.embedding_dim = 3;
  c.vatt.text.freeze_embeddings = true;
  const text::WordVocab vocab = text::WordVocab::learn({"the cat sat", "the dog ran", "a cat"}, 100, 1);
  c.text.vocab_size = vocab.vocab_size();
  const auto model = std::make_shared<models::VattImpl>(c);
  CATCH_CHECK(model->text_embed->weight.sizes() == at::IntArrayRef({vocab.vocab_size(), 3}));
  CATCH_REQUIRE(model->text_pre_proj);
  CATCH_CHECK(model->text_pre_proj->weight.sizes() == at::IntArrayRef({12, 3}));
  CATCH_CHECK(!model->text_pre_proj->bias.defined());
  CATCH_CHECK(model->text_agg.size(0) == 3);  // in the word vectors' space
  CATCH_CHECK(!model->text_embed->weight.requires_grad());

  test::TempDir dir;
  test::write_text(dir / "w2v.txt", "3 3\ncat 1 2 3\nThe 4 5 6\nzebra 7 8 9\n");
  const at::Tensor before = model->text_embed->weight.clone();
  CATCH_CHECK(models::load_word_vectors(*model, vocab, (dir / "w2v.txt").string()) == 2);
  const int64_t cat = vocab.encode("cat").at(0), the = vocab.encode("the").at(0), dog = vocab.encode("dog").at(0);
  CATCH_CHECK(at::equal(model->text_embed->weight[cat], at::tensor({1.0f, 2.0f, 3.0f})));
  CATCH_CHECK(at::equal(model->text_embed->weight[the], at::tensor({4.0f, 5.0f, 6.0f})));
  CATCH_CHECK(at::equal(model->text_embed->weight[dog], before[dog]));  // not in the file: unchanged

  // A frozen table gets no gradient; the rest of the text tower does.
  model->train();
  data::Batch b;
  b.text = at::tensor(std::vector<int64_t>{the, cat, 0, 0}, at::kLong).view({1, 4});
  const at::Tensor out = model->forward(b).at("text");
  (out * at::randn(out.sizes())).sum().backward();
  CATCH_CHECK(!model->text_embed->weight.grad().defined());
  CATCH_CHECK(model->text_pre_proj->weight.grad().abs().sum().item<double>() > 0);

  test::write_text(dir / "wide.txt", "1 4\ncat 1 2 3 4\n");
  try {
    models::load_word_vectors(*model, vocab, (dir / "wide.txt").string());
    CATCH_FAIL("no error");
  } catch (const ConfigError& e) {
    CATCH_CHECK(std::string(e.what()).find("4 dimensions") != std::string::npos);
  }
}

// FDT against its definition: weights recomputed by hand from the towers' outputs, padding left out
// of the maximum, the gradient against finite differences, a few optimiser steps that must lower the
// loss, and CLIP weights loading into its towers.
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <torch/autograd.h>
#include <torch/optim/adamw.h>

#include "mmcl/core/error.h"
#include "mmcl/losses/loss.h"
#include "mmcl/models/fdt.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/models/sparsemax.h"
#include "fixtures.h"

using mmcl::models::FdtImpl;

namespace {

mmcl::config::ModelConfig micro_fdt_config(mmcl::TokenWeighting weighting = mmcl::TokenWeighting::sparsemax, double temperature = 1.0) {
  mmcl::config::ModelConfig c = mmcl::test::micro_clip_config();
  c.name = "fdt";
  c.fdt.tokens = 24;
  c.fdt.dim = 8;
  c.fdt.weighting = weighting;
  c.fdt.temperature = temperature;
  return c;
}

// The weights as the method defines them, from the towers' outputs and the head's parameters.
at::Tensor weights_by_hand(FdtImpl& m, const at::Tensor& queries_in, mmcl::models::QueryMap& query,
                           const at::Tensor& valid, const mmcl::config::FdtConfig& c) {
  const at::Tensor q = query->forward(queries_in);
  at::Tensor a = at::matmul(q, m.fdt->tokens.t()) / std::sqrt(static_cast<double>(c.dim)) / c.temperature;
  if (valid.defined()) a = a.masked_fill(valid.logical_not().unsqueeze(-1), -std::numeric_limits<double>::infinity());
  const at::Tensor r = std::get<0>(a.max(1));
  return c.weighting == mmcl::TokenWeighting::softmax ? at::softmax(r, -1) : mmcl::models::sparsemax(r);
}

}  // namespace

CATCH_TEST_CASE("FDT embeddings are the normalised mixture of the tokens the queries select", "[models]") {
  for (const mmcl::TokenWeighting weighting : {mmcl::TokenWeighting::sparsemax, mmcl::TokenWeighting::softmax}) {
    CATCH_CAPTURE(weighting);
    at::manual_seed(1);
    const auto c = micro_fdt_config(weighting);
    FdtImpl m(c);
    m.eval();
    torch::NoGradGuard no_grad;
    const mmcl::data::Batch b = mmcl::test::micro_clip_batch(5);
    const auto e = m.forward(b);
    CATCH_CHECK(m.embedding_dim() == 8);
    CATCH_REQUIRE(e.at("image").sizes() == at::IntArrayRef({5, 8}));
    CATCH_REQUIRE(e.at("text").sizes() == at::IntArrayRef({5, 8}));
    CATCH_CHECK(at::allclose(e.at("image").norm(2, 1), at::ones({5}), 1e-5, 1e-6));

    // Images: every patch (not the class token) is a query.
    const at::Tensor patches = m.visual->tokens(b.image).slice(1, 1);
    CATCH_CHECK(patches.size(1) == 4);  // 16 px in 8 px patches
    const at::Tensor wi = weights_by_hand(m, patches, m.fdt->image_query, {}, c.fdt);
    const auto iw = m.image_weights(b.image);
    CATCH_CHECK(at::allclose(iw.weights, wi, 1e-5, 1e-6));
    CATCH_CHECK(at::allclose(iw.weights.sum(1), at::ones({5}), 1e-5, 1e-6));
    CATCH_CHECK(iw.weights.min().item<double>() >= 0);
    const at::Tensor fi = at::matmul(wi, m.fdt->tokens);
    CATCH_CHECK(at::allclose(e.at("image"), fi / fi.norm(2, 1, true), 1e-5, 1e-6));

    // Captions: positions up to the end token are queries.
    const at::Tensor valid = FdtImpl::text_positions(b.text);
    const at::Tensor wt = weights_by_hand(m, m.text_tokens(b.text), m.fdt->text_query, valid, c.fdt);
    CATCH_CHECK(at::allclose(m.text_weights(b.text).weights, wt, 1e-5, 1e-6));
    if (weighting == mmcl::TokenWeighting::softmax) CATCH_CHECK(wt.min().item<double>() > 0);
  }
}

CATCH_TEST_CASE("FDT leaves text padding out of the maximum", "[models]") {
  at::manual_seed(2);
  FdtImpl m(micro_fdt_config());
  m.eval();
  torch::NoGradGuard no_grad;
  // [start 18, words, end 19, padding]: the end token is the largest id.
  at::Tensor ids = at::tensor({18, 3, 4, 19, 0, 0, 18, 5, 19, 0, 0, 0}, at::kLong).view({2, 6});
  const at::Tensor valid = FdtImpl::text_positions(ids);
  CATCH_CHECK(valid.equal(at::tensor({1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0}, at::kInt).to(at::kBool).view({2, 6})));
  const auto before = m.text_weights(ids);
  CATCH_CHECK(std::isinf(before.relevance[0][4][0].item<double>()));
  CATCH_CHECK(before.relevance[0][4][0].item<double>() < 0);
  // Whatever follows the end token changes nothing.
  at::Tensor other = ids.clone();
  other[0][4] = 7;
  other[0][5] = 11;
  other[1][5] = 2;
  const auto after = m.text_weights(other);
  CATCH_CHECK(at::allclose(before.weights, after.weights, 0, 0));
  CATCH_CHECK(at::allclose(before.embedding, after.embedding, 0, 0));
  // Padding positions do carry (causally masked) outputs: had they counted, the maximum could differ.
  const at::Tensor q = m.fdt->text_query->forward(m.text_tokens(other));
  const at::Tensor unmasked = std::get<0>((at::matmul(q, m.fdt->tokens.t()) / std::sqrt(8.0)).max(1));
  const at::Tensor masked = std::get<0>(after.relevance.max(1));
  CATCH_CHECK(!at::allclose(unmasked, masked));
}

CATCH_TEST_CASE("FDT's gradient matches finite differences", "[models]") {
  at::manual_seed(3);
  FdtImpl m(micro_fdt_config(mmcl::TokenWeighting::sparsemax, 0.5));
  m.to(at::kDouble);
  m.train();
  mmcl::data::Batch b = mmcl::test::micro_clip_batch(4);
  b.image = b.image.to(at::kDouble);
  const auto loss = mmcl::losses::make_loss(mmcl::config::LossConfig{});
  auto objective = [&] { return (*loss)(m.forward(b)).total; };
  const at::Tensor value = objective();
  value.backward();
  // Only the towers' outputs before the projections feed FDT: the projections get no gradient.
  CATCH_CHECK(!m.text_projection.grad().defined());
  CATCH_CHECK(!m.visual->proj.grad().defined());
  CATCH_CHECK(m.visual->conv1->weight.grad().defined());
  int checked = 0;
  for (at::Tensor p : {m.fdt->tokens, m.fdt->image_query->fc_2->weight, m.fdt->text_query->fc_1->weight,
                       m.visual->transformer->resblocks->parameters().front(), m.token_embedding->weight}) {
    const at::Tensor grad = p.grad().clone();
    const at::Tensor flat = p.detach().view({-1});
    for (int64_t i = 0; i < flat.size(0); i += std::max<int64_t>(1, flat.size(0) / 7)) {
      torch::NoGradGuard no_grad;
      const double eps = 1e-6, saved = flat[i].item<double>();
      flat[i] = saved + eps;
      const double up = objective().item<double>();
      flat[i] = saved - eps;
      const double down = objective().item<double>();
      flat[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      CATCH_CHECK(grad.view({-1})[i].item<double>() == Approx(numeric).margin(1e-6).epsilon(1e-4));
      ++checked;
    }
  }
  CATCH_CHECK(checked >= 30);
}

CATCH_TEST_CASE("FDT learns: AdamW steps on a fixed batch lower the contrastive loss", "[models]") {
  at::manual_seed(4);
  FdtImpl m(micro_fdt_config());
  m.train();
  const mmcl::data::Batch b = mmcl::test::micro_clip_batch(8);
  const auto loss = mmcl::losses::make_loss(mmcl::config::LossConfig{});
  torch::optim::AdamW opt(m.parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(0));
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    opt.zero_grad();
    const at::Tensor l = (*loss)(m.forward(b)).total;
    l.backward();
    opt.step();
    m.after_step();
    (step == 0 ? first : last) = l.item<double>();
  }
  CATCH_CAPTURE(first, last);
  CATCH_CHECK(last < 0.5 * first);
}

CATCH_TEST_CASE("CLIP weights load into FDT's towers, the token bank starts fresh", "[models]") {
  at::manual_seed(5);
  auto clip_config = mmcl::test::micro_clip_config();
  mmcl::models::ClipImpl clip(clip_config);
  const auto weights = mmcl::models::named_weights(clip);
  FdtImpl fdt(micro_fdt_config());
  const at::Tensor bank = fdt.fdt->tokens.clone();
  // Strict loading names the first missing tensor.
  CATCH_CHECK_THROWS_WITH(mmcl::models::load_weights_into(fdt, weights, "clip.safetensors"),
                          Catch::Contains("no tensor \"fdt."));
  const auto report = mmcl::models::load_weights_into(
      fdt, weights, "clip.safetensors", [&](const std::string& n) { return fdt.may_start_fresh(n); });
  CATCH_CHECK(report.loaded == static_cast<int64_t>(weights.size()));
  CATCH_CHECK(report.unused.empty());
  CATCH_CHECK(report.fresh.size() == 17);  // the bank, and 2 query maps of 2 LayerNorms and 2 Linears
  CATCH_CHECK(fdt.visual->conv1->weight.equal(clip.visual->conv1->weight));
  CATCH_CHECK(fdt.token_embedding->weight.equal(clip.token_embedding->weight));
  CATCH_CHECK(fdt.fdt->tokens.equal(bank));
}

CATCH_TEST_CASE("FDT on a ResNet tower: the image queries are the attention pool's input positions", "[models]") {
  mmcl::config::ModelConfig c;
  c.name = "fdt";
  c.vision.tower = mmcl::VisionTower::resnet;
  c.vision.resnet_layers = {1, 1, 1, 1};
  c.vision.width = 8;
  c.vision.head_width = 32;
  c.vision.image_size = 64;
  c.text.width = 16;
  c.text.heads = 2;
  c.text.layers = 1;
  c.text.vocab_size = 40;
  c.text.context_length = 8;
  c.fdt.tokens = 32;
  c.fdt.dim = 12;
  torch::manual_seed(2);
  mmcl::models::FdtImpl model(c);
  model.eval();
  const at::Tensor images = at::randn({2, 3, 64, 64});
  // 2 x 2 cells of the last feature map, 32 x 8 = 256 channels wide.
  CATCH_CHECK(model.image_tokens(images).sizes() == at::IntArrayRef({2, 4, 256}));
  CATCH_CHECK(model.fdt->image_query->fc_1->weight.sizes() == at::IntArrayRef({12, 256}));
  const auto w = model.image_weights(images);
  CATCH_CHECK(w.relevance.sizes() == at::IntArrayRef({2, 4, 32}));
  CATCH_CHECK(at::allclose(w.embedding.norm(2, -1), at::ones({2}), 1e-5, 1e-5));
}

CATCH_TEST_CASE("FDT's sum and mean pooling over the valid positions, by hand", "[models]") {
  for (const mmcl::TokenPooling pooling : {mmcl::TokenPooling::sum, mmcl::TokenPooling::mean}) {
    CATCH_CAPTURE(pooling);
    at::manual_seed(4);
    auto c = micro_fdt_config(mmcl::TokenWeighting::softmax);
    c.fdt.pooling = pooling;
    FdtImpl m(c);
    m.eval();
    torch::NoGradGuard no_grad;
    mmcl::data::Batch b = mmcl::test::micro_clip_batch(3);
    for (int64_t i = 0; i < 3; ++i) {  // captions of 3, 4, 5 tokens, then padding
      b.text[i][2 + i] = 19;
      b.text[i].slice(0, 3 + i).fill_(0);
    }
    const at::Tensor valid = FdtImpl::text_positions(b.text);
    const at::Tensor q = m.fdt->text_query->forward(m.text_tokens(b.text));
    const at::Tensor a = at::matmul(q, m.fdt->tokens.t()) / std::sqrt(8.0) / c.fdt.temperature;  // [B, L, C]
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t n = valid[i].sum().item<int64_t>();
      CATCH_REQUIRE(n < valid.size(1));  // the caption has padding
      at::Tensor r = a[i].slice(0, 0, n).sum(0);  // valid positions are a prefix
      if (pooling == mmcl::TokenPooling::mean) r = r / static_cast<double>(n);
      CATCH_CHECK(at::allclose(m.text_weights(b.text).weights[i], at::softmax(r, -1), 1e-5, 1e-6));
    }
    // Images have no padding: every patch counts.
    const at::Tensor ai = at::matmul(m.fdt->image_query->forward(m.visual->tokens(b.image).slice(1, 1)), m.fdt->tokens.t()) /
                          std::sqrt(8.0) / c.fdt.temperature;
    at::Tensor ri = ai.sum(1);
    if (pooling == mmcl::TokenPooling::mean) ri = ri / static_cast<double>(ai.size(1));
    CATCH_CHECK(at::allclose(m.image_weights(b.image).weights, at::softmax(ri, -1), 1e-5, 1e-6));
  }
}

CATCH_TEST_CASE("the logit scale stays in [model.min_logit_scale, model.max_logit_scale] (FDT's [e^3, 100])", "[models]") {
  auto c = micro_fdt_config();
  c.init_logit_scale = 3.0;
  c.min_logit_scale = 3.0;
  FdtImpl m(c);
  {
    torch::NoGradGuard no_grad;
    m.logit_scale.fill_(1.0);
  }
  m.after_step();
  CATCH_CHECK(m.logit_scale.item<double>() == Approx(3.0));
  {
    torch::NoGradGuard no_grad;
    m.logit_scale.fill_(7.0);
  }
  m.after_step();
  CATCH_CHECK(m.logit_scale.item<double>() == Approx(std::log(100.0)));
}

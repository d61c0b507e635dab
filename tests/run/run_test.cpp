// run::resolve: one config turned into device, precision, tokenizer, model, input spec and dataset, for
// a fresh model (training) and for a checkpoint (evaluation).
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "mmcl/config/load.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/run/run.h"
#include "mmcl/text/tokenizer.h"
#include "fixtures.h"

using namespace mmcl;
using namespace mmcl::test;

namespace {

const std::string kTinyModel =
    "model:\n  preset: clip-vit-tiny\n  embed_dim: 16\n"
    "  vision: {image_size: 16, patch_size: 8, width: 32, layers: 1, head_width: 16}\n"
    "  text: {context_length: 8, width: 32, heads: 2, layers: 1}\n";

}  // namespace

CATCH_TEST_CASE("resolve: a fresh model on synthetic data has no tokenizer and the model's input spec", "[run]") {
  const config::RunConfig c = config::load_config_text(
      "runtime: {device: cpu, precision: bf16}\n" + kTinyModel + "data: {type: synthetic, synthetic: {size: 16}}\n", "x.yaml");
  run::Request request;
  request.dataset = true;
  const run::Run r = run::resolve(c, request);
  CATCH_CHECK(r.device.is_cpu());
  CATCH_CHECK(r.precision.mode == PrecisionMode::bf16);
  CATCH_CHECK(!r.tokenizer);
  CATCH_CHECK(r.can == &model_capabilities("clip"));
  CATCH_CHECK(r.spec.image_size == 16);
  CATCH_CHECK(r.spec.context_length == 8);
  CATCH_REQUIRE(r.dataset);
  CATCH_CHECK(r.dataset->size() == 16);
  for (const auto& p : r.model->parameters()) CATCH_CHECK(p.scalar_type() == at::kBFloat16);  // placed in bf16
  CATCH_CHECK(r.model->is_training());
  // The same seed gives the same initial weights.
  const run::Run again = run::resolve(c, request);
  const auto a = r.model->parameters(), b = again.model->parameters();
  for (size_t i = 0; i < a.size(); ++i) CATCH_CHECK(at::equal(a[i], b[i]));
  // amp_fp16 cannot run on this CPU: refused naming the key.
  config::RunConfig f16 = c;
  f16.runtime.precision = PrecisionMode::amp_fp16;
  CATCH_CHECK_THROWS_WITH(run::resolve(f16, request), Catch::Contains("runtime.precision: amp_fp16 needs a CUDA device"));
}

CATCH_TEST_CASE("resolve: a learned vocabulary sizes the text tower, and travels with the run", "[run]") {
  TempDir dir;
  write_colour_squares(dir.path());
  const config::RunConfig c = config::load_config_text(
      "runtime: {device: cpu}\n" + kTinyModel + "data: {type: manifest, train: " + (dir / "train.csv").string() +
          "}\ntokenizer: {name: words}\n",
      "x.yaml");
  run::Request request;
  request.dataset = true;
  const run::Run r = run::resolve(c, request);
  CATCH_REQUIRE(r.tokenizer);
  CATCH_CHECK(r.config.model.text.vocab_size == r.tokenizer->vocab_size());
  CATCH_CHECK(r.config.model.text.vocab_size == 10);  // 6 words + 4 special tokens
  CATCH_CHECK(r.model_config.text.vocab_size == 10);
  CATCH_CHECK(r.spec.tokenizer == r.tokenizer);
  CATCH_CHECK(!r.tokenizer_state.empty());
  CATCH_CHECK(c.model.text.vocab_size == 49408);  // the loaded config is left as it was
  // Without the tokenizer (bench on synthetic batches): the config's vocabulary.
  run::Request bare;
  bare.tokenizer = false;
  CATCH_CHECK(!run::resolve(c, bare).tokenizer);
}

CATCH_TEST_CASE("resolve: a checkpoint's own config rebuilds its model, in eval mode, with its weights", "[run]") {
  TempDir dir;
  const config::RunConfig c = config::load_config_text("runtime: {device: cpu}\n" + kTinyModel, "x.yaml");
  const run::Run fresh = run::resolve(c, {});
  io::TrainState state;
  state.step = 7;
  io::save_checkpoint(dir / "step_7.pt", *fresh.model, nullptr, state, {config::dump_config(c), ""});

  // Evaluated from a config that names a different model: the checkpoint's wins.
  config::RunConfig other = config::load_config_text("runtime: {device: cpu}\nmodel: {preset: clip-vit-tiny}\n", "y.yaml");
  run::Request request;
  request.model = run::ModelFrom::checkpoint;
  request.checkpoint = (dir / "step_7.pt").string();
  request.tokenizer = false;
  const run::Run r = run::resolve(other, request);
  CATCH_CHECK(r.checkpoint == request.checkpoint);
  CATCH_CHECK(r.checkpoint_step == 7);
  CATCH_CHECK(r.model_config.embed_dim == 16);
  CATCH_CHECK(!r.model->is_training());
  const auto a = fresh.model->named_parameters(), b = r.model->named_parameters();
  CATCH_REQUIRE(a.size() == b.size());
  for (const auto& p : a) CATCH_CHECK(at::equal(p.value(), b[p.key()]));
  // Neither a checkpoint nor pretrained weights: refused.
  request.checkpoint = "";
  CATCH_CHECK_THROWS_AS(run::resolve(other, request), ConfigError);
}

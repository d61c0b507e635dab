// FDT through every subcommand on a tiny real image-caption set: pretrain, zeroshot, retrieve, embed,
// linear-probe, finetune, export (and the exported weights reloaded), inspect.
#include <nlohmann/json.hpp>
#include <stb_image.h>

#include <ATen/ATen.h>

#include "mmcl/config/load.h"
#include "mmcl/data/batch.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/io/tensorboard.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/run/run.h"
#include "run_results.h"
#include "fixtures.h"

using namespace mmcl::test;

namespace {
const char* kRunYaml =
    "run: {name: fdt, seed: 1}\n"
    "runtime: {device: cpu, threads: 1}\n"
    "model:\n  name: fdt\n  base: clip-vit-tiny\n  embed_dim: 24\n"
    "  vision: {image_size: 16, patch_size: 4, width: 32, layers: 1, head_width: 16}\n"
    "  text: {context_length: 8, width: 32, heads: 2, layers: 1}\n"
    "  fdt: {tokens: 32, dim: 16, temperature: 1}\n"
    "data: {type: manifest, train: train.csv, batch_size: 8, workers: 2}\n"
    "tokenizer: {name: words}\n"
    "optim: {lr: 0.003, warmup_steps: 5}\n"
    "train: {steps: 60, log_every: 10}\n"
    "eval: {data: test.csv, templates: ['a {} square', 'a photo of a {} square']}\n";
}  // namespace

CATCH_TEST_CASE("FDT: pretrain, evaluate with every subcommand, export, inspect the token bank", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  write_text(dir / "run.yaml", kRunYaml);

  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("model fdt") != std::string::npos);

  // Two colours: the FDT embeddings must tell them apart.
  const auto z = run_for_results("zeroshot --config run.yaml --set run.name=zs --set eval.checkpoint=runs/fdt", dir.path(), "zs");
  CATCH_CHECK(z["samples"] == 8);
  CATCH_CHECK(z["top1"].get<double>() == 1.0);

  const auto rt = run_for_results("retrieve --config run.yaml --set run.name=rt --set eval.checkpoint=runs/fdt "
                                  "--set eval.data=captions.csv", dir.path(), "rt");
  CATCH_CHECK(rt["images"] == 8);

  // The embeddings are FDT's (model.fdt.dim 16), not the towers' projections (model.embed_dim 24).
  const auto em = run_mmcl("embed --config run.yaml --set run.name=em --set eval.checkpoint=runs/fdt "
                           "--set eval.data=captions.csv", dir.path());
  CATCH_CAPTURE(em.output);
  CATCH_REQUIRE(em.exit_code == 0);
  const auto embedded = mmcl::io::load_safetensors(dir / "runs/em/embeddings.safetensors");
  std::map<std::string, at::Tensor> et(embedded.tensors.begin(), embedded.tensors.end());
  CATCH_CHECK(et.at("image_embeddings").sizes() == at::IntArrayRef({8, 16}));
  CATCH_CHECK(et.at("text_embeddings").sizes() == at::IntArrayRef({8, 16}));

  const auto lp = run_for_results("linear-probe --config run.yaml --set run.name=lp --set eval.checkpoint=runs/fdt "
                                  "--set eval.train=test.csv", dir.path(), "lp");
  CATCH_CHECK(lp["top1"].get<double>() == 1.0);

  const auto ft = run_for_results("finetune --config run.yaml --set run.name=ft --set eval.checkpoint=runs/fdt "
                                  "--set eval.train=test.csv --set train.steps=2 --set finetune.mode=full", dir.path(), "ft");
  CATCH_CHECK(ft["steps"] == 2);

  // export: safetensors plus an mmcl preset (FDT is not an open_clip model); the preset rebuilds the
  // model, the weights load strictly, and the embeddings are the checkpoint's.
  const auto ex = run_mmcl("export --checkpoint runs/fdt --out fdt.safetensors", dir.path());
  CATCH_CAPTURE(ex.output);
  CATCH_REQUIRE(ex.exit_code == 0);
  CATCH_REQUIRE(fs::exists(dir / "fdt.yaml"));
  const auto exported = mmcl::io::load_safetensors(dir / "fdt.safetensors");
  CATCH_CHECK(exported.metadata.at("mmcl_model") == read_text(dir / "fdt.yaml"));
  const auto c = mmcl::config::load_config_text("model: {preset: " + (dir / "fdt.yaml").string() + "}\n", "x.yaml");
  CATCH_CHECK(c.model.name == "fdt");
  CATCH_CHECK(c.model.fdt.tokens == 32);
  auto rebuilt = mmcl::models::make_model(c.model);
  const auto report = mmcl::models::load_weights_into(*rebuilt, exported.tensors, "fdt.safetensors");
  CATCH_CHECK(report.unused.empty());
  const auto original = mmcl::run::resolve_checkpoint_model((dir / "runs/fdt").string());
  rebuilt->eval();
  mmcl::data::Batch b;
  b.image = at::randn({3, 3, 16, 16});
  b.text = at::tensor({7, 2, 3, 4, 8, 0, 0, 0}, at::kLong).view({1, 8}).repeat({3, 1});
  b.indices = {0, 1, 2};
  torch::NoGradGuard no_grad;
  const auto a = rebuilt->forward(b), o = original.model->forward(b);
  CATCH_CHECK(at::allclose(a.at("image"), o.at("image")));
  CATCH_CHECK(at::allclose(a.at("text"), o.at("text")));

  // inspect: sparsity, the words behind the most used tokens, heat maps a viewer opens.
  const auto r = run_for_results("inspect --config run.yaml --set run.name=in --set eval.checkpoint=runs/fdt "
                                 "--set eval.data=captions.csv --tokens 3 --examples 2", dir.path(), "in");
  CATCH_CHECK(r["pairs"] == 8);
  CATCH_CHECK(r["bank_tokens"] == 32);
  const double nonzero = r["nonzero_per_image"]["mean"];
  CATCH_CHECK(nonzero >= 1.0);
  CATCH_CHECK(nonzero <= 32.0);
  CATCH_CHECK(r["nonzero_per_caption"]["min"].get<double>() >= 1.0);
  CATCH_REQUIRE(r["top_tokens"].size() == 3);
  const std::set<std::string> vocabulary = {"<start>", "a", "red", "blue", "square", "<end>"};
  int maps = 0;
  for (const auto& t : r["top_tokens"]) {
    for (const auto& w : t["words"]) CATCH_CHECK(vocabulary.count(w["word"].get<std::string>()) == 1);
    for (const auto& e : t["examples"]) {
      int width = 0, height = 0, channels = 0;
      const std::string png = (dir / "runs/in" / e["heat_map"].get<std::string>()).string();
      CATCH_REQUIRE(stbi_info(png.c_str(), &width, &height, &channels) == 1);
      CATCH_CHECK(width == 2 * 192);  // 16 px zoomed to 192, image and overlay side by side
      CATCH_CHECK(height == 192);
      ++maps;
    }
  }
  CATCH_CHECK(maps >= 1);
  // TensorBoard: the results' numbers and the heat maps, in one event file of the evaluation's directory.
  size_t numbers = 0;
  for (const auto& [key, value] : r.items()) numbers += value.is_number();
  std::vector<fs::path> event_files;
  for (const auto& e : fs::directory_iterator(dir / "runs/in/tb")) event_files.push_back(e.path());
  CATCH_REQUIRE(event_files.size() == 1);
  const auto records = mmcl::io::read_event_records(event_files[0]);
  CATCH_CHECK(records.size() == 1 + numbers + static_cast<size_t>(maps));
  int images = 0;
  for (const auto& record : records) images += record.find("heatmaps/token") != std::string::npos;
  CATCH_CHECK(images == maps);
  CATCH_CHECK(read_text(dir / "runs/in/summary.txt").find("non-zero weights per image") != std::string::npos);

  // inspect needs an FDT model: a CLIP checkpoint is refused and nothing is written.
  const auto clip = run_mmcl("pretrain --config run.yaml --set run.name=clip --set model.name=clip --set train.steps=1", dir.path());
  CATCH_REQUIRE(clip.exit_code == 0);
  const auto bad = run_mmcl("inspect --config run.yaml --set run.name=bad --set eval.checkpoint=runs/clip "
                            "--set eval.data=captions.csv", dir.path());
  CATCH_CHECK(bad.exit_code == 2);
  CATCH_CHECK(bad.output.find("inspect reads an FDT model") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/bad"));
}

// End to end on real files: pretrain on a tiny image-text manifest, then zeroshot and retrieve.
#include <cmath>

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include "mmcl/io/safetensors.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/run/run.h"
#include "run_results.h"
#include "fixtures.h"

using namespace mmcl::test;


CATCH_TEST_CASE("pretrain on a manifest, then zeroshot and retrieve from the checkpoint", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  write_text(dir / "run.yaml",
             "run: {name: colours, seed: 1}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n"
             "data: {type: manifest, train: train.csv, batch_size: 8, workers: 2}\n"
             "tokenizer: {name: words}\n"
             "optim: {lr: 0.002, warmup_steps: 5}\n"
             "train: {steps: 40, log_every: 10}\n"
             "eval: {data: test.csv, templates: ['a {} square', 'a photo of a {} square']}\n");

  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(fs::exists(dir / "runs/colours/tokenizer.json"));
  CATCH_CHECK(read_text(dir / "runs/colours/config.yaml").find("vocab_size: 10") != std::string::npos);  // 6 words + 4

  const auto zs = run_mmcl("zeroshot --config run.yaml --set run.name=zs --set eval.checkpoint=runs/colours", dir.path());
  CATCH_CAPTURE(zs.output);
  CATCH_REQUIRE(zs.exit_code == 0);
  CATCH_CHECK(zs.output.find("skipping sample") != std::string::npos);  // the broken image, logged
  const auto z = nlohmann::json::parse(read_text(dir / "runs/zs/results.json"));
  CATCH_CHECK(z["samples"] == 8);
  CATCH_CHECK(z["skipped"] == 1);
  CATCH_CHECK(z["classes"] == nlohmann::json({"blue", "red"}));
  CATCH_CHECK(z["top1"].get<double>() >= 0.0);
  CATCH_CHECK(z["top5"].get<double>() == 1.0);  // two classes
  CATCH_CHECK(z["confusion"].size() == 2);
  CATCH_CHECK(fs::exists(dir / "runs/zs/summary.txt"));
  CATCH_CHECK(!fs::exists(dir / "runs/zs/checkpoints"));

  // classify: single image files among the classes given; CLIP's probabilities from the similarities and
  // the model's own logit scale; an unreadable file is reported, not fatal.
  write_text(dir / "classes.txt", "red\nblue\n\n");
  const auto cl = run_mmcl("classify --config run.yaml --set run.name=cl --set eval.checkpoint=runs/colours "
                           "--classes-file classes.txt --top 2 img/test0.png img/test1.png img/broken.png", dir.path());
  CATCH_CAPTURE(cl.output);
  CATCH_REQUIRE(cl.exit_code == 0);
  const auto c = nlohmann::json::parse(read_text(dir / "runs/cl/results.json"));
  CATCH_CHECK(c["classes"] == nlohmann::json({"red", "blue"}));
  CATCH_REQUIRE(c["images"].size() == 2);
  CATCH_CHECK(c["skipped"] == nlohmann::json({"img/broken.png"}));
  const auto final_weights = mmcl::io::load_safetensors(dir / "runs/colours/final.safetensors");
  double log_scale = 0;
  for (const auto& [name, t] : final_weights.tensors)
    if (name == "logit_scale") log_scale = t.template item<double>();
  for (const auto& image : c["images"]) {
    const double s0 = image["similarity"][0], s1 = image["similarity"][1];
    const double p_red = 1 / (1 + std::exp(std::exp(log_scale) * (s1 - s0)));
    CATCH_REQUIRE(image["top"].size() == 2);
    const bool red_first = image["top"][0]["class"] == "red";
    CATCH_CHECK(image["top"][0]["probability"].get<double>() == Approx(red_first ? p_red : 1 - p_red).epsilon(1e-6));
    CATCH_CHECK(image["top"][0]["probability"].get<double>() + image["top"][1]["probability"].get<double>() == Approx(1.0));
  }
  CATCH_CHECK(cl.output.find("img/test0.png\n") != std::string::npos);
  // --classes on the command line gives the same numbers.
  const auto cl2 = run_mmcl("classify --config run.yaml --set run.name=cl2 --set eval.checkpoint=runs/colours "
                            "--classes red,blue img/test0.png", dir.path());
  CATCH_REQUIRE(cl2.exit_code == 0);
  const auto c2 = nlohmann::json::parse(read_text(dir / "runs/cl2/results.json"));
  CATCH_CHECK(c2["images"][0]["similarity"][0].get<double>() == Approx(c["images"][0]["similarity"][0].get<double>()));
  CATCH_CHECK(run_mmcl("classify --config run.yaml --set run.name=cl3 --set eval.checkpoint=runs/colours img/test0.png",
                       dir.path()).exit_code == 2);  // no classes anywhere

  // The same config as training, as the README runs it: the evaluation goes to a folder of its own inside
  // the training run (it once offered --resume and, taken up, rewrote the run's config.yaml and train.log).
  const std::string run_config = read_text(dir / "runs/colours/config.yaml"), run_log = read_text(dir / "runs/colours/train.log");
  for (int i = 0; i < 2; ++i) {
    const auto same = run_mmcl("zeroshot --config run.yaml --set eval.checkpoint=runs/colours", dir.path());
    CATCH_CAPTURE(same.output);
    CATCH_REQUIRE(same.exit_code == 0);
  }
  std::vector<fs::path> evals;
  for (const auto& e : fs::directory_iterator(dir / "runs/colours/eval")) evals.push_back(e.path());
  CATCH_REQUIRE(evals.size() == 2);  // two runs, two folders: nothing overwritten
  for (const auto& e : evals) {
    CATCH_CHECK(e.filename().string().rfind("zeroshot-", 0) == 0);
    CATCH_CHECK(nlohmann::json::parse(read_text(e / "results.json"))["samples"] == 8);
  }
  CATCH_CHECK(read_text(dir / "runs/colours/config.yaml") == run_config);
  CATCH_CHECK(read_text(dir / "runs/colours/train.log") == run_log);
  // Evaluations have nothing to resume, and an explicit --run-dir that exists is refused.
  CATCH_CHECK(run_mmcl("zeroshot --config run.yaml --set eval.checkpoint=runs/colours --resume", dir.path()).exit_code == 2);
  const auto taken = run_mmcl("zeroshot --config run.yaml --set eval.checkpoint=runs/colours --run-dir runs/zs", dir.path());
  CATCH_CHECK(taken.exit_code == 2);
  CATCH_CHECK(taken.output.find("runs/zs: exists; an evaluation writes into a new directory") != std::string::npos);

  const auto r = run_for_results("retrieve --config run.yaml --set run.name=rt --set eval.checkpoint=runs/colours/checkpoints/step_40.pt "
                                 "--set eval.data=captions.csv --set eval.export_embeddings=true", dir.path(), "rt");
  CATCH_CHECK(r["images"] == 8);
  CATCH_CHECK(r["captions"] == 8);
  CATCH_CHECK(r["image_to_text"]["R@10"] == 1.0);  // only 8 candidates
  CATCH_CHECK(r["rsum"].get<double>() > 0);
  // The exported embeddings: unit rows, and they reproduce the reported image->text R@1.
  const auto emb = mmcl::io::load_safetensors(dir / "runs/rt/embeddings.safetensors");
  CATCH_REQUIRE(emb.tensors.size() == 3);
  const at::Tensor images = emb.tensors[0].second, texts = emb.tensors[1].second, owner = emb.tensors[2].second;
  CATCH_CHECK(emb.tensors[0].first == "image_embeddings");
  CATCH_CHECK(images.sizes() == at::IntArrayRef({8, 16}));
  CATCH_CHECK(texts.sizes() == at::IntArrayRef({8, 16}));
  CATCH_CHECK(at::allclose(images.norm(2, 1), at::ones({8}), 1e-5, 1e-5));
  CATCH_CHECK(owner.equal(at::arange(8, at::kLong)));
  // R@1 as the metric counts it: a tie with another image's caption counts against the model.
  const at::Tensor sim = at::matmul(images, texts.t());
  const at::Tensor own = sim.gather(1, owner.view({-1, 1}));
  const at::Tensor others = sim.ge(own).logical_and(owner.view({1, -1}).ne(at::arange(8, at::kLong).view({-1, 1})));
  const double r1 = others.sum(1).eq(0).to(at::kDouble).mean().item<double>();
  CATCH_CHECK(r1 == Approx(r["image_to_text"]["R@1"].get<double>()));
  CATCH_CHECK(nlohmann::json::parse(emb.metadata.at("images")).size() == 8);
  CATCH_CHECK(nlohmann::json::parse(emb.metadata.at("captions"))[0] == "a red square");

  // embed: the same image embeddings in manifest order, and every caption with its row.
  const auto em = run_mmcl("embed --config run.yaml --set run.name=em --set eval.checkpoint=runs/colours "
                           "--set eval.data=captions.csv", dir.path());
  CATCH_CAPTURE(em.output);
  CATCH_REQUIRE(em.exit_code == 0);
  const auto embedded = mmcl::io::load_safetensors(dir / "runs/em/embeddings.safetensors");
  std::map<std::string, at::Tensor> et(embedded.tensors.begin(), embedded.tensors.end());
  CATCH_CHECK(at::allclose(et.at("image_embeddings"), images, 1e-6, 1e-6));
  CATCH_CHECK(at::equal(et.at("image_valid"), at::ones({8}, at::kByte)));
  CATCH_CHECK(at::allclose(et.at("text_embeddings"), texts, 1e-6, 1e-6));
  CATCH_CHECK(at::equal(et.at("caption_row"), at::arange(8, at::kLong)));
  CATCH_CHECK(nlohmann::json::parse(read_text(dir / "runs/em/results.json"))["unreadable"] == 0);

  // export: open_clip names in safetensors, the open_clip config beside it; reading it back is bit-exact.
  const auto ex = run_mmcl("export --checkpoint runs/colours --out exported.safetensors", dir.path());
  CATCH_CAPTURE(ex.output);
  CATCH_REQUIRE(ex.exit_code == 0);
  const auto oc = nlohmann::json::parse(read_text(dir / "exported.json"));
  CATCH_CHECK(oc["embed_dim"] == 16);
  CATCH_CHECK(oc["vision_cfg"]["patch_size"] == 8);
  const auto exported = mmcl::io::load_safetensors(dir / "exported.safetensors");
  CATCH_CHECK(nlohmann::json::parse(exported.metadata.at("open_clip_config")) == oc);
  const auto original = mmcl::run::resolve_checkpoint_model((dir / "runs/colours").string());
  // (from another working directory: a checkpoint's config is not checked against the file system)
  const auto weights = mmcl::models::named_weights(*original.model);
  CATCH_REQUIRE(weights.size() == exported.tensors.size());
  auto reloaded = mmcl::models::make_model(original.model_config);
  mmcl::models::load_weights_into(*reloaded, exported.tensors, "exported.safetensors");
  const auto again = mmcl::models::named_weights(*reloaded);
  for (size_t i = 0; i < weights.size(); ++i) {
    CATCH_CAPTURE(weights[i].first);
    CATCH_CHECK(exported.tensors[i].first == weights[i].first);
    CATCH_CHECK(at::equal(exported.tensors[i].second, weights[i].second));
    CATCH_CHECK(at::equal(again[i].second, weights[i].second));
  }

  // Linear probe: fit on the labelled test images themselves (tiny data), validated on a fixed split.
  const auto l = run_for_results("linear-probe --config run.yaml --set run.name=lp --set eval.checkpoint=runs/colours "
                                 "--set eval.train=test.csv", dir.path(), "lp");
  CATCH_CHECK(l["samples"] == 8);
  CATCH_CHECK(l["sweep"]["l2"].size() == 11);
  CATCH_CHECK(l["top1"].get<double>() >= 0.0);
  CATCH_CHECK(l["top1"].get<double>() <= 1.0);

  // Fine-tuning a head on the frozen image tower, evaluated after each epoch.
  const auto f = run_for_results("finetune --config run.yaml --set run.name=ft --set eval.checkpoint=runs/colours "
                                 "--set eval.train=test.csv --set train.steps=0 --set train.epochs=2 --set finetune.mode=linear", dir.path(), "ft");
  CATCH_CHECK(f["steps"] == 2);  // 9 listed, 1 unreadable -> one batch of 8 per epoch
  CATCH_CHECK(f["epoch_top1"].size() == 2);
  CATCH_CHECK(f["samples"] == 8);
  CATCH_CHECK(read_text(dir / "runs/ft/checkpoints/latest") == "step_2.pt\n");
  CATCH_CHECK(read_text(dir / "runs/ft/metrics.jsonl").find("eval/top1") != std::string::npos);

  // runtime.precision in evaluation: the same embeddings to bfloat16's precision (float32 rows), not
  // bit-equal to float32's.
  for (const std::string precision : {"amp_bf16", "bf16"}) {
    CATCH_INFO(precision);
    const auto low = run_mmcl("embed --config run.yaml --set run.name=em_" + precision +
                              " --set eval.checkpoint=runs/colours --set eval.data=captions.csv --set runtime.precision=" +
                              precision, dir.path());
    CATCH_CAPTURE(low.output);
    CATCH_REQUIRE(low.exit_code == 0);
    const auto lt = mmcl::io::load_safetensors(dir / ("runs/em_" + precision + "/embeddings.safetensors"));
    std::map<std::string, at::Tensor> l(lt.tensors.begin(), lt.tensors.end());
    for (const auto& [name, reference] : {std::pair{"image_embeddings", images}, std::pair{"text_embeddings", texts}}) {
      const at::Tensor e = l.at(name);
      CATCH_CHECK(e.scalar_type() == at::kFloat);
      CATCH_CHECK(!at::allclose(e, reference, 1e-6, 1e-6));
      CATCH_CHECK((e * reference).sum(1).min().item<double>() > 0.99);  // cosine of unit rows
      CATCH_CHECK((e - reference).abs().max().item<double>() < 0.05);
    }
  }
  // finetune in amp_bf16: trains the whole model, says so, and evaluates.
  const auto fb = run_mmcl("finetune --config run.yaml --set run.name=ft_bf16 --set eval.checkpoint=runs/colours "
                           "--set eval.train=test.csv --set train.steps=0 --set train.epochs=2 --set finetune.mode=full "
                           "--set runtime.precision=amp_bf16", dir.path());
  CATCH_CAPTURE(fb.output);
  CATCH_REQUIRE(fb.exit_code == 0);
  CATCH_CHECK(fb.output.find("precision amp_bf16") != std::string::npos);
  const auto fbr = nlohmann::json::parse(read_text(dir / "runs/ft_bf16/results.json"));
  CATCH_CHECK(fbr["steps"] == 2);
  CATCH_CHECK(fbr["top1"].get<double>() >= 0.0);
  // amp_fp16 needs CUDA: with runtime.device cpu a config error, and nothing written.
  const auto f16 = run_mmcl("zeroshot --config run.yaml --set run.name=f16 --set eval.checkpoint=runs/colours "
                            "--set runtime.precision=amp_fp16", dir.path());
  CATCH_CAPTURE(f16.output);
  CATCH_CHECK(f16.exit_code == 2);
  CATCH_CHECK(f16.output.find("runtime.precision: amp_fp16 needs a CUDA device") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/f16"));

  // Without a checkpoint the evaluation is refused before anything is written.
  const auto none = run_mmcl("zeroshot --config run.yaml --set run.name=none", dir.path());
  CATCH_CHECK(none.exit_code == 2);
  CATCH_CHECK(none.output.find("eval.checkpoint: required") != std::string::npos);
  CATCH_CHECK(!fs::exists(dir / "runs/none"));
}

CATCH_TEST_CASE("captions and class names that are not UTF-8 are read with U+FFFD, never the end of a run", "[cli]") {
  // A Latin-1 caption ended a run with the word tokenizer (its vocabulary is JSON) and made embed
  // fail after all its work (the captions go into JSON metadata).
  TempDir dir;
  write_colour_squares(dir.path());
  std::string train = read_text(dir / "train.csv");
  train += "img/train0.png,a caf\xe9 \xff square\n";
  write_text(dir / "train.csv", train);
  write_text(dir / "captions.csv", "filepath,title\nimg/test0.png,\"na\xefve\nred\"\nimg/test1.png,blue\n");
  write_text(dir / "run.yaml",
             "run: {name: latin, seed: 1}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n"
             "data: {type: manifest, train: train.csv, batch_size: 8, workers: 1}\n"
             "tokenizer: {name: words}\n"
             "train: {steps: 2, log_every: 1}\n");
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  CATCH_CHECK(pre.output.find("train.csv: 1 lines hold text that is not UTF-8") != std::string::npos);
  const auto vocab = nlohmann::json::parse(read_text(dir / "runs/latin/tokenizer.json"))["words"];
  CATCH_CHECK(std::find(vocab.begin(), vocab.end(), "caf\xef\xbf\xbd") != vocab.end());  // caf + U+FFFD
  const auto em = run_mmcl("embed --config run.yaml --set run.name=em --set eval.checkpoint=runs/latin "
                           "--set eval.data=captions.csv", dir.path());
  CATCH_CAPTURE(em.output);
  CATCH_REQUIRE(em.exit_code == 0);
  const auto embedded = mmcl::io::load_safetensors(dir / "runs/em/embeddings.safetensors");
  CATCH_CHECK(nlohmann::json::parse(embedded.metadata.at("captions"))[0] == "na\xef\xbf\xbdve\nred");
}

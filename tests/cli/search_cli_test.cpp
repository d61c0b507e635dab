// mmcl search end to end: a trained colour-squares CLIP, an index from mmcl embed, text and image queries.
#include <algorithm>
#include <map>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/io/safetensors.h"
#include "fixtures.h"
#include "run_results.h"

using namespace mmcl::test;

namespace {

// Scores the command reported against scores computed from the index's own embeddings.
void check_hits(const nlohmann::json& results, const at::Tensor& expected_scores, const std::vector<std::string>& names,
                const char* field) {
  const at::Tensor order = std::get<1>(expected_scores.sort(0, /*descending=*/true));
  const auto& hits = results["hits"];
  CATCH_REQUIRE(hits.size() == std::min<size_t>(3, names.size()));
  for (size_t k = 0; k < hits.size(); ++k) {
    const int64_t row = order[static_cast<int64_t>(k)].item<int64_t>();
    CATCH_CHECK(hits[k]["rank"] == k + 1);
    CATCH_CHECK(hits[k]["score"].get<double>() == Approx(expected_scores[row].item<double>()).margin(1e-5));
    // Equal scores may come in either order; the score of the name shown must be the one reported.
    const auto it = std::find(names.begin(), names.end(), hits[k][field].get<std::string>());
    CATCH_REQUIRE(it != names.end());
    CATCH_CHECK(expected_scores[it - names.begin()].item<double>() == Approx(hits[k]["score"].get<double>()).margin(1e-5));
  }
}

std::vector<std::string> strings(const std::string& json) { return nlohmann::json::parse(json).get<std::vector<std::string>>(); }

}  // namespace

CATCH_TEST_CASE("search: text and image queries against an embed index and a folder", "[cli]") {
  TempDir dir;
  write_colour_squares(dir.path());
  write_text(dir / "run.yaml", colour_squares_yaml("colours", "optim: {lr: 0.002, warmup_steps: 5}\ntrain: {steps: 20, log_every: 10}\n"));
  CATCH_REQUIRE(run_mmcl("pretrain --config run.yaml", dir.path()).exit_code == 0);
  const auto em = run_mmcl("embed --config run.yaml --set run.name=em --set eval.checkpoint=runs/colours "
                           "--set eval.data=captions.csv", dir.path());
  CATCH_CAPTURE(em.output);
  CATCH_REQUIRE(em.exit_code == 0);
  const auto index = mmcl::io::load_safetensors(dir / "runs/em/embeddings.safetensors");
  std::map<std::string, at::Tensor> t(index.tensors.begin(), index.tensors.end());
  const at::Tensor images = t.at("image_embeddings"), texts = t.at("text_embeddings");
  const std::vector<std::string> paths = strings(index.metadata.at("images")), captions = strings(index.metadata.at("captions"));
  CATCH_CHECK(index.metadata.at("checkpoint").find("step_20.pt") != std::string::npos);

  const std::string base = "search --config run.yaml --set eval.checkpoint=runs/colours --top 3 ";
  // An image query against the images: itself first, at similarity 1.
  const auto self = run_for_results(base + "--set run.name=s3 --index runs/em/embeddings.safetensors --image img/test2.png "
                                           "--in images", dir.path(), "s3");
  check_hits(self, at::matmul(images, images[2]), paths, "image");
  CATCH_CHECK(self["hits"][0]["image"] == "img/test2.png");
  CATCH_CHECK(self["hits"][0]["score"].get<double>() == Approx(1.0).margin(1e-5));
  // By default an image query searches the captions of an index that has them.
  const auto to_text = run_for_results(base + "--set run.name=s4 --index runs/em/embeddings.safetensors --image img/test2.png",
                                       dir.path(), "s4");
  CATCH_CHECK(to_text["searched"] == "captions");
  check_hits(to_text, at::matmul(texts, images[2]), captions, "caption");
  // A folder embedded on the spot (the unreadable img/broken.png left out) gives the index's scores for
  // the images they share.
  const auto folder = run_mmcl(base + "--set run.name=s5 --folder img --image img/test2.png --json", dir.path());
  CATCH_CAPTURE(folder.output);
  CATCH_REQUIRE(folder.exit_code == 0);
  const auto f = nlohmann::json::parse(read_text(dir / "runs/s5/results.json"));
  CATCH_CHECK(f["items"] == 40);  // 32 training and 8 test images
  CATCH_CHECK(f["hits"][0]["image"].get<std::string>().find("test2.png") != std::string::npos);
  CATCH_CHECK(f["hits"][0]["score"].get<double>() == Approx(1.0).margin(1e-5));
  CATCH_CHECK(folder.output.find("\"hits\": [") != std::string::npos);  // --json prints the results

  // A text query: the caption "a blue square" (the index's second caption) reproduces its own row's scores.
  const auto blue = run_mmcl(base + "--set run.name=s6 --index runs/em/embeddings.safetensors --text \"a blue square\"",
                             dir.path());
  CATCH_CAPTURE(blue.output);
  CATCH_REQUIRE(blue.exit_code == 0);
  const auto b = nlohmann::json::parse(read_text(dir / "runs/s6/results.json"));
  CATCH_CHECK(b["query"]["text"] == "a blue square");
  CATCH_CHECK(b["searched"] == "images");
  check_hits(b, at::matmul(images, texts[1]), paths, "image");

  // Mistakes: no query, two indexes, an index that is not one, an index of another model.
  CATCH_CHECK(run_mmcl(base + "--index runs/em/embeddings.safetensors", dir.path()).exit_code == 2);
  CATCH_CHECK(run_mmcl(base + "--index runs/em/embeddings.safetensors --folder img --text red", dir.path()).exit_code != 0);
  const auto weights = run_mmcl(base + "--index runs/colours/final.safetensors --text red", dir.path());
  CATCH_CHECK(weights.exit_code != 0);
  CATCH_CHECK(weights.output.find("not an embeddings index") != std::string::npos);
  mmcl::io::save_safetensors(dir / "other.safetensors", {{"image_embeddings", at::ones({2, 3})}},
                             {{"images", "[\"a.png\", \"b.png\"]"}});
  const auto other = run_mmcl(base + "--index other.safetensors --text red", dir.path());
  CATCH_CHECK(other.exit_code != 0);
  CATCH_CHECK(other.output.find("the index was made by another model") != std::string::npos);
  mmcl::io::save_safetensors(dir / "short.safetensors", {{"image_embeddings", at::ones({2, 16})}}, {{"images", "[\"a.png\"]"}});
  const auto shorter = run_mmcl(base + "--index short.safetensors --text red", dir.path());
  CATCH_CHECK(shorter.output.find("has 1 entries for 2 rows") != std::string::npos);
}

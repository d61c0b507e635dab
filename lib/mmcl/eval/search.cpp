#include "mmcl/eval/search.h"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/data/image_files.h"
#include "mmcl/eval/embed.h"
#include "mmcl/io/safetensors.h"

namespace mmcl::eval {
namespace {

void require_image_text(const run::Run& run) {
  if (!run.can->has(Modality::image) || !run.can->has(Modality::text))
    throw ConfigError(str_cat("search: model ", run.model_config.name, " does not embed images and texts"));
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to embed text with");
}

// A JSON list of strings from the index's metadata, of `expected` entries.
std::vector<std::string> string_list(const io::Safetensors& file, const std::string& key, int64_t expected,
                                     const std::string& path) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end()) throw Error(str_cat(path, ": the index has no \"", key, "\" list in its metadata"));
  const nlohmann::json list = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!list.is_array()) throw Error(str_cat(path, ": metadata \"", key, "\" is not a JSON list"));
  std::vector<std::string> out;
  for (const auto& item : list) {
    if (!item.is_string()) throw Error(str_cat(path, ": metadata \"", key, "\" holds a non-string"));
    out.push_back(item.get<std::string>());
  }
  if (static_cast<int64_t>(out.size()) != expected)
    throw Error(str_cat(path, ": metadata \"", key, "\" has ", out.size(), " entries for ", expected, " rows"));
  return out;
}

at::Tensor matrix(const io::Safetensors& file, const std::string& name, const std::string& path) {
  for (const auto& [n, t] : file.tensors)
    if (n == name) {
      if (t.dim() != 2 || !t.is_floating_point() || t.size(1) == 0)
        throw Error(str_cat(path, ": ", name, " is not a [rows, dimension] matrix of floats"));
      return t.to(at::kFloat).contiguous();
    }
  return {};
}

}  // namespace

SearchIndex read_index(const std::string& path) {
  const io::Safetensors file = io::load_safetensors(path);
  SearchIndex out;
  out.source = path;
  at::Tensor images = matrix(file, "image_embeddings", path);
  if (!images.defined())
    throw Error(str_cat(path, ": not an embeddings index (no image_embeddings; write one with mmcl embed)"));
  std::vector<std::string> paths = string_list(file, "images", images.size(0), path);
  // embed keeps a row for every manifest row (image_valid says which were read); retrieve keeps read ones.
  at::Tensor valid;
  for (const auto& [n, t] : file.tensors)
    if (n == "image_valid") valid = t;
  if (valid.defined()) {
    if (valid.dim() != 1 || valid.size(0) != images.size(0))
      throw Error(str_cat(path, ": image_valid does not have one entry per row"));
    const at::Tensor keep = valid.to(at::kBool).nonzero().flatten();
    std::vector<std::string> kept;
    const auto* k = keep.data_ptr<int64_t>();
    for (int64_t i = 0; i < keep.size(0); ++i) kept.push_back(paths[static_cast<size_t>(k[i])]);
    images = images.index_select(0, keep);
    paths = std::move(kept);
  }
  out.images = images;
  out.image_paths = std::move(paths);
  out.texts = matrix(file, "text_embeddings", path);
  if (out.texts.defined()) {
    if (out.texts.size(1) != out.images.size(1))
      throw Error(str_cat(path, ": text and image embeddings differ in dimension (", out.texts.size(1), " and ",
                          out.images.size(1), ")"));
    out.captions = string_list(file, "captions", out.texts.size(0), path);
  }
  if (const auto it = file.metadata.find("checkpoint"); it != file.metadata.end()) out.checkpoint = it->second;
  return out;
}

SearchIndex index_folder(const run::Run& run, const std::string& folder, int64_t max_images) {
  require_image_text(run);
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw ConfigError(str_cat("--folder: \"", folder, "\" is not a folder"));
  std::vector<std::string> files = data::list_image_files(folder);
  if (files.empty()) throw ConfigError(str_cat("--folder: no image files (jpg, jpeg, png, bmp, gif) below \"", folder, "\""));
  if (static_cast<int64_t>(files.size()) > max_images)
    throw ConfigError(str_cat("--folder: \"", folder, "\" holds ", files.size(), " images, more than --max-images (",
                              max_images, "); index it once with mmcl embed and search the index"));
  const ImageEmbeddings emb = embed_image_files(run, files);
  SearchIndex out;
  out.source = folder;
  out.images = emb.embeddings.to(at::kFloat).cpu();
  for (int64_t i : emb.indices) out.image_paths.push_back(files[static_cast<size_t>(i)]);
  out.checkpoint = run.checkpoint;
  return out;
}

at::Tensor embed_query_text(const run::Run& run, const std::string& text) {
  require_image_text(run);
  return embed_texts(*run.model, *run.tokenizer, {text}, run.model_config.text.context_length,
                     embed_options(run, Modality::text))
      .to(at::kFloat)
      .cpu()[0];
}

at::Tensor embed_query_image(const run::Run& run, const std::string& path) {
  require_image_text(run);
  const ImageEmbeddings emb = embed_image_files(run, {path});
  if (emb.indices.empty()) throw Error(str_cat("--image: cannot read \"", path, "\" as an image"));
  return emb.embeddings.to(at::kFloat).cpu()[0];
}

std::vector<Hit> nearest(const at::Tensor& query, const at::Tensor& items, int64_t top) {
  MMCL_CHECK(query.dim() == 1 && items.dim() == 2, "internal: nearest takes [D] and [N, D]");
  if (items.size(1) != query.size(0))
    throw Error(str_cat("the index's embeddings have dimension ", items.size(1), ", the model's ", query.size(0),
                        ": the index was made by another model"));
  const at::Tensor scores = at::matmul(items.to(at::kDouble), query.to(at::kDouble)).contiguous();
  const double* s = scores.data_ptr<double>();
  std::vector<Hit> hits;
  for (int64_t r = 0; r < scores.size(0); ++r) hits.push_back({r, std::isnan(s[r]) ? -INFINITY : s[r]});
  const auto k = static_cast<size_t>(std::clamp<int64_t>(top, 0, static_cast<int64_t>(hits.size())));
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(k), hits.end(),
                    [](const Hit& a, const Hit& b) { return a.score != b.score ? a.score > b.score : a.row < b.row; });
  hits.resize(k);
  return hits;
}

}  // namespace mmcl::eval

// mmcl retrieve: image -> text and text -> image retrieval over eval.data (each image with one or
// more captions: repeated rows of a CSV/TSV, or a list of captions in JSONL).

#include <cstdio>
#include <map>
#include <sstream>

#include <ATen/ATen.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/data/image_text.h"
#include "mmcl/eval/metrics.h"

namespace mmcl::cli {
namespace {

class Retrieve : public EvalCommand {
 public:
  std::string name() const override { return "retrieve"; }
  std::string summary() const override { return "Image-text retrieval R@1/5/10 over eval.data with a checkpoint"; }

 protected:
  EvalOutput evaluate(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt) override {
    const auto& e = c.eval;
    data::ManifestColumns columns{e.image_key, e.caption_key, "", c.data.separator, ""};
    const data::Manifest rows = data::read_manifest(e.data, columns);
    // One record per distinct image; every caption remembers its image.
    data::Manifest images;
    images.path = rows.path;
    std::map<std::string, int64_t> image_index;
    std::vector<std::string> captions;
    std::vector<int64_t> owner;
    for (const auto& r : rows.records) {
      auto [it, fresh] = image_index.emplace(r.image, static_cast<int64_t>(images.records.size()));
      if (fresh) images.records.push_back({r.image, {}, -1});
      for (const auto& cap : r.captions) captions.push_back(cap), owner.push_back(it->second);
    }
    MMCL_CHECK(m.tokenizer, "the checkpoint has no tokenizer to embed captions with");
    const int64_t ctx = m.config.model.text.context_length;
    auto dataset = std::make_shared<data::ImageTextDataset>(
        images, data::image_transform(c.data.image, m.config.model.vision.image_size, false), nullptr, ctx);
    const eval::ImageEmbeddings img = eval::embed_images(*m.model, dataset, e.batch_size, c.data.workers, rt.device);
    const at::Tensor txt = eval::embed_texts(*m.model, *m.tokenizer, captions, ctx, e.batch_size, rt.device);

    // Images that could not be read leave the evaluation with their captions.
    std::vector<int64_t> row_of(images.records.size(), -1);
    for (size_t r = 0; r < img.indices.size(); ++r) row_of[static_cast<size_t>(img.indices[r])] = static_cast<int64_t>(r);
    std::vector<int64_t> kept_captions, kept_owner;
    for (size_t t = 0; t < captions.size(); ++t)
      if (row_of[static_cast<size_t>(owner[t])] >= 0)
        kept_captions.push_back(static_cast<int64_t>(t)), kept_owner.push_back(row_of[static_cast<size_t>(owner[t])]);
    const at::Tensor similarity =
        at::matmul(img.embeddings, txt.index_select(0, at::tensor(kept_captions, at::kLong)).t());
    const auto r = eval::retrieval_metrics(similarity, kept_owner);

    EvalOutput out;
    out.results = {{"images", img.indices.size()},
                   {"captions", kept_captions.size()},
                   {"image_to_text", {{"R@1", r.image_to_text_r1}, {"R@5", r.image_to_text_r5},
                                      {"R@10", r.image_to_text_r10}, {"median_rank", r.image_to_text_median_rank}}},
                   {"text_to_image", {{"R@1", r.text_to_image_r1}, {"R@5", r.text_to_image_r5},
                                      {"R@10", r.text_to_image_r10}, {"median_rank", r.text_to_image_median_rank}}},
                   {"rsum", r.rsum}};
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "retrieval on %s: %zu images, %zu captions\n"
                  "image->text  R@1 %.2f%%  R@5 %.2f%%  R@10 %.2f%%  median rank %.1f\n"
                  "text->image  R@1 %.2f%%  R@5 %.2f%%  R@10 %.2f%%  median rank %.1f\n"
                  "rsum %.2f\n",
                  e.data.c_str(), img.indices.size(), kept_captions.size(), 100 * r.image_to_text_r1,
                  100 * r.image_to_text_r5, 100 * r.image_to_text_r10, r.image_to_text_median_rank,
                  100 * r.text_to_image_r1, 100 * r.text_to_image_r5, 100 * r.text_to_image_r10,
                  r.text_to_image_median_rank, r.rsum);
    out.summary = buf;
    if (e.export_embeddings) {
      // Rows as evaluated: readable images in manifest order, their captions in manifest order.
      std::vector<std::string> image_paths, caption_texts;
      for (const int64_t i : img.indices) image_paths.push_back(images.records[static_cast<size_t>(i)].image);
      for (const int64_t t : kept_captions) caption_texts.push_back(captions[static_cast<size_t>(t)]);
      out.tensors_file = "embeddings.safetensors";
      out.tensors = {{"image_embeddings", img.embeddings.to(at::kFloat)},
                     {"text_embeddings", txt.index_select(0, at::tensor(kept_captions, at::kLong)).to(at::kFloat)},
                     {"caption_image", at::tensor(kept_owner, at::kLong)}};
      out.tensors_metadata = {{"images", nlohmann::json(image_paths).dump()},
                              {"captions", nlohmann::json(caption_texts).dump()},
                              {"checkpoint", c.eval.checkpoint},
                              {"model", m.config.model.name}};
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_retrieve() { return std::make_unique<Retrieve>(); }

}  // namespace mmcl::cli

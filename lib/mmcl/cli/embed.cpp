// mmcl embed: the normalised image and caption embeddings of eval.data, in the manifest's row order,
// written to <run>/embeddings.safetensors: the building block of a retrieval index.

#include <cstdio>

#include <ATen/ATen.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/data/image_text.h"

namespace mmcl::cli {
namespace {

class Embed : public EvalCommand {
 public:
  std::string name() const override { return "embed"; }
  std::string summary() const override {
    return "Write the image and caption embeddings of eval.data to embeddings.safetensors, in manifest order";
  }

 protected:
  EvalOutput evaluate(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt) override {
    const auto& e = c.eval;
    const data::Manifest rows = data::read_manifest(e.data, {e.image_key, e.caption_key, "", c.data.separator, ""});
    const int64_t n = static_cast<int64_t>(rows.records.size());
    if (n == 0) throw ConfigError(str_cat(e.data, ": no rows to embed"));
    const int64_t ctx = m.config.model.text.context_length;

    // Images: one row per manifest row; an unreadable image leaves a zero row, marked in image_valid.
    auto dataset = std::make_shared<data::ImageTextDataset>(
        rows, data::image_transform(c.data.image, m.config.model.vision.image_size, false), nullptr, ctx);
    const eval::ImageEmbeddings img = eval::embed_images(*m.model, dataset, e.batch_size, c.data.workers, rt.device, m.precision);
    at::Tensor images = at::zeros({n, img.embeddings.size(1)}, at::kFloat);
    at::Tensor valid = at::zeros({n}, at::kByte);
    const at::Tensor index = at::tensor(img.indices, at::kLong);
    images.index_copy_(0, index, img.embeddings.to(at::kFloat));
    valid.index_fill_(0, index, 1);

    EvalOutput out;
    out.tensors_file = "embeddings.safetensors";
    out.tensors = {{"image_embeddings", images}, {"image_valid", valid}};
    nlohmann::json image_paths = nlohmann::json::array();
    for (const auto& r : rows.records) image_paths.push_back(r.image);
    out.tensors_metadata = {{"images", image_paths.dump()}, {"data", e.data}};

    // Captions (when eval.caption_key names a column): every caption, with the row it belongs to.
    int64_t captions = 0;
    if (!e.caption_key.empty()) {
      MMCL_CHECK(m.tokenizer, "the checkpoint has no tokenizer to embed captions with");
      std::vector<std::string> texts;
      std::vector<int64_t> owner;
      for (int64_t r = 0; r < n; ++r)
        for (const auto& t : rows.records[static_cast<size_t>(r)].captions) texts.push_back(t), owner.push_back(r);
      if (!texts.empty()) {
        out.tensors.emplace_back("text_embeddings",
                                 eval::embed_texts(*m.model, *m.tokenizer, texts, ctx, e.batch_size, rt.device, m.precision).to(at::kFloat));
        out.tensors.emplace_back("caption_row", at::tensor(owner, at::kLong));
        out.tensors_metadata["captions"] = nlohmann::json(texts).dump();
      }
      captions = static_cast<int64_t>(texts.size());
    }
    const int64_t readable = static_cast<int64_t>(img.indices.size());
    out.results = {{"rows", n}, {"images", readable}, {"unreadable", n - readable}, {"captions", captions},
                   {"dim", images.size(1)}, {"file", out.tensors_file}};
    char buf[300];
    std::snprintf(buf, sizeof buf, "embedded %s: %lld rows, %lld images (%lld unreadable), %lld captions, dimension %lld\n",
                  e.data.c_str(), static_cast<long long>(n), static_cast<long long>(readable),
                  static_cast<long long>(n - readable), static_cast<long long>(captions),
                  static_cast<long long>(images.size(1)));
    out.summary = buf;
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_embed() { return std::make_unique<Embed>(); }

}  // namespace mmcl::cli

// mmcl embed: the normalised image and caption embeddings of eval.data, in the manifest's row order
// (eval::embed_manifest), written to <run>/embeddings.safetensors.

#include <ATen/ATen.h>

#include "mmcl/core/json_text.h"
#include "mmcl/cli/eval_command.h"
#include "mmcl/eval/embed.h"

namespace mmcl::cli {
namespace {

class Embed : public EvalCommand {
 public:
  std::string name() const override { return "embed"; }
  std::string summary() const override {
    return "Write the image and caption embeddings of eval.data to embeddings.safetensors, in manifest order";
  }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const config::EvalConfig& e = run.config.eval;
    const eval::ManifestEmbeddings m = eval::embed_manifest(run);
    const int64_t n = m.images.size(0), captions = static_cast<int64_t>(m.captions.size());
    EvalOutput out;
    out.tensors_file = "embeddings.safetensors";
    out.tensors = {{"image_embeddings", m.images}, {"image_valid", m.valid}};
    // What made the index: mmcl search warns when a query is embedded by another checkpoint.
    out.tensors_metadata = {{"images", json_text(nlohmann::json(m.image_paths))},
                            {"data", e.data},
                            {"checkpoint", run.checkpoint},
                            {"model", run.model_config.name}};
    if (m.texts.defined()) {
      out.tensors.emplace_back("text_embeddings", m.texts);
      out.tensors.emplace_back("caption_row", at::tensor(m.caption_row, at::kLong));
      out.tensors_metadata["captions"] = json_text(nlohmann::json(m.captions));
    }
    out.results = {{"rows", n},         {"images", m.readable}, {"unreadable", n - m.readable},
                   {"captions", captions}, {"dim", m.images.size(1)}, {"file", out.tensors_file}};
    out.summary = format_line("embedded %s: %lld rows, %lld images (%lld unreadable), %lld captions, dimension %lld\n",
                              e.data.c_str(), static_cast<long long>(n), static_cast<long long>(m.readable),
                              static_cast<long long>(n - m.readable), static_cast<long long>(captions),
                              static_cast<long long>(m.images.size(1)));
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_embed() { return std::make_unique<Embed>(); }

}  // namespace mmcl::cli

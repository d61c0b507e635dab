// mmcl retrieve: retrieval R@1/5/10 over eval.data with a checkpoint (eval/retrieve.h); this file
// formats the result and, with eval.export_embeddings, writes the embeddings.

#include <ATen/ATen.h>

#include "mmcl/core/json_text.h"
#include "mmcl/cli/eval_command.h"
#include "mmcl/eval/retrieve.h"

namespace mmcl::cli {
namespace {

class Retrieve : public EvalCommand {
 public:
  std::string name() const override { return "retrieve"; }
  std::string summary() const override { return "Image-text (or video-text) retrieval R@1/5/10 over eval.data with a checkpoint"; }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const config::EvalConfig& e = run.config.eval;
    const eval::RetrievalResult r = eval::retrieve(run);
    EvalOutput out;
    // Keys name the sides: images/image_to_text/text_to_image, videos/video_to_text/..., videos/video_to_audio/...
    out.results = {{r.query + "s", r.items}};
    if (r.target == "text") {
      out.results["captions"] = r.captions;
      out.summary = format_line("retrieval on %s: %lld %ss, %lld captions\n", e.data.c_str(),
                                static_cast<long long>(r.items), r.query.c_str(), static_cast<long long>(r.captions));
    } else {
      out.summary = format_line("retrieval on %s: %lld videos and their soundtracks\n", e.data.c_str(),
                                static_cast<long long>(r.items));
    }
    const eval::RetrievalMetrics& m = r.metrics;
    auto direction = [&](const std::string& from, const std::string& to, double r1, double r5, double r10, double median) {
      out.results[from + "_to_" + to] = {{"R@1", r1}, {"R@5", r5}, {"R@10", r10}, {"median_rank", median}};
      out.summary += format_line("%s->%s  R@1 %.2f%%  R@5 %.2f%%  R@10 %.2f%%  median rank %.1f\n", from.c_str(), to.c_str(),
                                 100 * r1, 100 * r5, 100 * r10, median);
    };
    direction(r.query, r.target, m.image_to_text_r1, m.image_to_text_r5, m.image_to_text_r10, m.image_to_text_median_rank);
    direction(r.target, r.query, m.text_to_image_r1, m.text_to_image_r5, m.text_to_image_r10, m.text_to_image_median_rank);
    out.results["rsum"] = m.rsum;
    out.summary += format_line("rsum %.2f\n", m.rsum);
    if (e.export_embeddings && r.target == "text") {
      out.tensors_file = "embeddings.safetensors";
      out.tensors = {{"image_embeddings", r.item_embeddings.to(at::kFloat)},
                     {"text_embeddings", r.text_embeddings.to(at::kFloat)},
                     {"caption_image", at::tensor(r.caption_item, at::kLong)}};
      out.tensors_metadata = {{"images", json_text(nlohmann::json(r.item_paths))},
                              {"captions", json_text(nlohmann::json(r.caption_texts))},
                              {"checkpoint", e.checkpoint},
                              {"model", run.model_config.name}};
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_retrieve() { return std::make_unique<Retrieve>(); }

}  // namespace mmcl::cli

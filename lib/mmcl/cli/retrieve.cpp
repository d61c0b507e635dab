// mmcl retrieve: image -> text and text -> image retrieval over eval.data (each image with one or
// more captions: repeated rows of a CSV/TSV, or a list of captions in JSONL); video <-> text for
// models that read video (the centre clip of each video), and with eval.retrieval: audio, video <->
// audio (each video's centre clip against the centre of every soundtrack; VATT's video-audio space).

#include <cstdio>
#include <map>
#include <sstream>

#include <ATen/ATen.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/eval/evaluate.h"
#include "mmcl/eval/metrics.h"

namespace mmcl::cli {
namespace {

// Both directions of a retrieval result ("<a>_to_<b>" is the query side's metrics, "<b>_to_<a>" the
// other's) into the results, and their lines ("a->b  R@1 ...") appended to the summary, then rsum.
void add_directions(const eval::RetrievalMetrics& r, const std::string& a, const std::string& b,
                    nlohmann::json& results, std::string& summary) {
  auto direction = [&](const std::string& from, const std::string& to, double r1, double r5, double r10, double median) {
    results[from + "_to_" + to] = {{"R@1", r1}, {"R@5", r5}, {"R@10", r10}, {"median_rank", median}};
    char line[200];
    std::snprintf(line, sizeof line, "%s->%s  R@1 %.2f%%  R@5 %.2f%%  R@10 %.2f%%  median rank %.1f\n", from.c_str(),
                  to.c_str(), 100 * r1, 100 * r5, 100 * r10, median);
    summary += line;
  };
  direction(a, b, r.image_to_text_r1, r.image_to_text_r5, r.image_to_text_r10, r.image_to_text_median_rank);
  direction(b, a, r.text_to_image_r1, r.text_to_image_r5, r.text_to_image_r10, r.text_to_image_median_rank);
  results["rsum"] = r.rsum;
  char line[64];
  std::snprintf(line, sizeof line, "rsum %.2f\n", r.rsum);
  summary += line;
}

class Retrieve : public EvalCommand {
 public:
  std::string name() const override { return "retrieve"; }
  std::string summary() const override { return "Image-text (or video-text) retrieval R@1/5/10 over eval.data with a checkpoint"; }

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
    const std::string modality = m.model->input_modality();  // "image" or "video"
    if (e.retrieval == "audio") return video_audio(c, m, rt, images);
    MMCL_CHECK(m.tokenizer, "the checkpoint has no tokenizer to embed captions with");
    const int64_t ctx = m.config.model.text.context_length;
    const eval::ImageEmbeddings img = eval::embed_images(*m.model, eval::labelled_inputs(c, m, images, /*train=*/false),
                                                         e.batch_size, c.data.workers, rt.device, m.precision, modality);
    const at::Tensor txt = eval::embed_texts(*m.model, *m.tokenizer, captions, ctx, e.batch_size, rt.device, m.precision);

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
    // Keys name the modality: images/image_to_text/text_to_image, or videos/video_to_text/text_to_video.
    out.results = {{modality + "s", img.indices.size()}, {"captions", kept_captions.size()}};
    out.summary = str_cat("retrieval on ", e.data, ": ", img.indices.size(), " ", modality, "s, ", kept_captions.size(),
                          " captions\n");
    add_directions(r, modality, "text", out.results, out.summary);
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

 private:
  // Video <-> audio: the i-th video's match is its own soundtrack.
  static EvalOutput video_audio(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt,
                                const data::Manifest& videos) {
    const auto& e = c.eval;
    const data::InputSpec spec = m.model->input_spec();
    if (m.model->input_modality() != "video" || spec.audio_samples <= 0)
      throw ConfigError(str_cat("eval.retrieval: audio needs a model of video and audio (vatt), not ", m.config.model.name));
    config::RunConfig as_video = c, as_audio = c;
    as_video.eval.modality = "video";
    as_audio.eval.modality = "audio";
    const eval::ImageEmbeddings v = eval::embed_images(*m.model, eval::labelled_inputs(as_video, m, videos, false),
                                                       e.batch_size, c.data.workers, rt.device, m.precision, "video", "video_va");
    const eval::ImageEmbeddings a = eval::embed_images(*m.model, eval::labelled_inputs(as_audio, m, videos, false),
                                                       e.batch_size, c.data.workers, rt.device, m.precision, "audio");
    // Only videos whose clip and soundtrack were both readable take part.
    std::vector<int64_t> audio_row(videos.records.size(), -1), vrows, arows;
    for (size_t r = 0; r < a.indices.size(); ++r) audio_row[static_cast<size_t>(a.indices[r])] = static_cast<int64_t>(r);
    for (size_t r = 0; r < v.indices.size(); ++r)
      if (audio_row[static_cast<size_t>(v.indices[r])] >= 0)
        vrows.push_back(static_cast<int64_t>(r)), arows.push_back(audio_row[static_cast<size_t>(v.indices[r])]);
    MMCL_CHECK(!vrows.empty(), e.data, ": no video with a readable clip and soundtrack");
    const at::Tensor vv = v.embeddings.index_select(0, at::tensor(vrows, at::kLong));
    const at::Tensor aa = a.embeddings.index_select(0, at::tensor(arows, at::kLong));
    std::vector<int64_t> owner(vrows.size());
    for (size_t i = 0; i < owner.size(); ++i) owner[i] = static_cast<int64_t>(i);
    const auto r = eval::retrieval_metrics(at::matmul(vv, aa.t()), owner);
    EvalOutput out;
    out.results = {{"videos", vrows.size()}};
    out.summary = str_cat("retrieval on ", e.data, ": ", vrows.size(), " videos and their soundtracks\n");
    add_directions(r, "video", "audio", out.results, out.summary);
    return out;
  }
};

}  // namespace

std::unique_ptr<Command> make_retrieve() { return std::make_unique<Retrieve>(); }

}  // namespace mmcl::cli

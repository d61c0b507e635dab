#include "mmcl/eval/retrieve.h"

#include <map>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/eval/embed.h"

namespace mmcl::eval {
namespace {

// Video <-> audio: the i-th video's match is its own soundtrack.
RetrievalResult video_audio(const run::Run& run, const data::Manifest& videos) {
  const config::EvalConfig& e = run.config.eval;
  if (run.can->eval_input != Modality::video || !run.can->has(Modality::audio))
    throw ConfigError(str_cat("eval.retrieval: audio needs a model of video and audio (vatt), not ", run.model_config.name));
  EmbedOptions video_options = embed_options(run, Modality::video);
  video_options.key = "video_va";  // the video-audio space
  const ImageEmbeddings v = embed_inputs(*run.model, labelled_inputs(run, videos, false, Modality::video), video_options);
  const ImageEmbeddings a =
      embed_inputs(*run.model, labelled_inputs(run, videos, false, Modality::audio), embed_options(run, Modality::audio));
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
  RetrievalResult out;
  out.query = "video";
  out.target = "audio";
  out.metrics = retrieval_metrics(at::matmul(vv, aa.t()), owner);
  out.items = static_cast<int64_t>(vrows.size());
  return out;
}

}  // namespace

RetrievalResult retrieve(const run::Run& run) {
  const config::EvalConfig& e = run.config.eval;
  const data::Manifest rows =
      data::read_manifest(e.data, eval_columns(e, run.config.data));
  // One record per distinct image; every caption remembers its image.
  data::Manifest items;
  items.path = rows.path;
  std::map<std::string, int64_t> item_index;
  std::vector<std::string> captions;
  std::vector<int64_t> owner;
  for (const auto& r : rows.records) {
    auto [it, fresh] = item_index.emplace(r.image, static_cast<int64_t>(items.records.size()));
    if (fresh) items.records.push_back({r.image, {}, -1});
    for (const auto& cap : r.captions) captions.push_back(cap), owner.push_back(it->second);
  }
  if (e.retrieval == RetrievalTarget::audio) return video_audio(run, items);
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to embed captions with");
  const Modality modality = run.can->eval_input;  // image, or video
  const ImageEmbeddings img =
      embed_inputs(*run.model, labelled_inputs(run, items, /*train=*/false, modality), embed_options(run, modality));
  const at::Tensor txt = embed_texts(*run.model, *run.tokenizer, captions, run.model_config.text.context_length,
                                     embed_options(run, Modality::text));

  // Items that could not be read leave the evaluation with their captions.
  std::vector<int64_t> row_of(items.records.size(), -1);
  for (size_t r = 0; r < img.indices.size(); ++r) row_of[static_cast<size_t>(img.indices[r])] = static_cast<int64_t>(r);
  std::vector<int64_t> kept_captions;
  RetrievalResult out;
  for (size_t t = 0; t < captions.size(); ++t)
    if (row_of[static_cast<size_t>(owner[t])] >= 0)
      kept_captions.push_back(static_cast<int64_t>(t)), out.caption_item.push_back(row_of[static_cast<size_t>(owner[t])]);
  const at::Tensor kept_text = txt.index_select(0, at::tensor(kept_captions, at::kLong));
  out.query = name_of(modality);
  out.target = "text";
  out.metrics = retrieval_metrics(at::matmul(img.embeddings, kept_text.t()), out.caption_item);
  out.items = static_cast<int64_t>(img.indices.size());
  out.captions = static_cast<int64_t>(kept_captions.size());
  out.item_embeddings = img.embeddings;
  out.text_embeddings = kept_text;
  for (const int64_t i : img.indices) out.item_paths.push_back(items.records[static_cast<size_t>(i)].image);
  for (const int64_t t : kept_captions) out.caption_texts.push_back(captions[static_cast<size_t>(t)]);
  return out;
}

}  // namespace mmcl::eval

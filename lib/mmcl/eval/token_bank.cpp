#include "mmcl/eval/token_bank.h"

#include <algorithm>
#include <map>

#include <ATen/ATen.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/image_text.h"
#include "mmcl/eval/embed.h"
#include "mmcl/models/fdt.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::eval {

TokenBankReport inspect_token_bank(const run::Run& run, const InspectOptions& o) {
  auto* fdt = dynamic_cast<models::FdtImpl*>(run.model.get());
  if (!fdt)
    throw ConfigError(str_cat("eval.checkpoint: inspect reads an FDT model's token bank; this model is \"",
                              run.model_config.name, "\""));
  MMCL_CHECK(run.tokenizer, "the checkpoint has no tokenizer to read captions with");
  const config::RunConfig& c = run.config;
  const auto& e = c.eval;
  data::Manifest rows = data::read_manifest(e.data, eval_columns(e, c.data));
  if (o.limit > 0 && static_cast<int64_t>(rows.records.size()) > o.limit) rows.records.resize(static_cast<size_t>(o.limit));
  const data::ImageTransform transform = data::image_transform(c.data.image, run.model_config.vision.image_size, false);
  const data::ImageTextDataset images(rows, transform, nullptr, 0);
  const int64_t ctx = run.model_config.text.context_length;

  // Pass 1: every pair's image and caption weights (its first caption), and for each caption the
  // position where each token's relevance peaks.
  torch::NoGradGuard no_grad;
  std::vector<int64_t> kept;
  std::vector<at::Tensor> image_w, text_w, caption_ids, caption_peaks;
  int64_t skipped = 0;
  std::vector<at::Tensor> batch;
  std::vector<int64_t> batch_rows;
  auto flush = [&] {
    if (batch.empty()) return;
    image_w.push_back(fdt->image_weights(at::stack(batch).to(run.device)).weights.to(at::kFloat).cpu());
    std::vector<std::string> texts;
    for (int64_t r : batch_rows) texts.push_back(rows.records[static_cast<size_t>(r)].captions.front());
    const at::Tensor ids = run.tokenizer->tokenize(texts, ctx);
    const models::TokenWeights tw = fdt->text_weights(ids.to(run.device));
    text_w.push_back(tw.weights.to(at::kFloat).cpu());
    caption_peaks.push_back(tw.peak.to(at::kShort).cpu());  // positions < context length
    caption_ids.push_back(ids);
    kept.insert(kept.end(), batch_rows.begin(), batch_rows.end());
    batch.clear();
    batch_rows.clear();
  };
  for (int64_t r = 0; r < images.size(); ++r) {
    if (rows.records[static_cast<size_t>(r)].captions.empty()) continue;
    try {
      batch.push_back(images.get(r, 0).image);
      batch_rows.push_back(r);
    } catch (const data::SampleError& err) {
      ++skipped;
      spdlog::warn("skipping {}: {}", images.describe(r), err.what());
    }
    if (static_cast<int64_t>(batch.size()) == e.batch_size) flush();
  }
  flush();
  if (kept.empty()) throw ConfigError(str_cat(e.data, ": no readable image with a caption to inspect"));
  const at::Tensor wi = at::cat(image_w), wt = at::cat(text_w);  // [N, C]
  const int64_t n = wi.size(0), bank = wi.size(1);

  // Sparsity, and how much of a caption's weight falls on tokens its own image weighs.
  const at::Tensor nz_i = wi.gt(0).sum(1).to(at::kDouble), nz_t = wt.gt(0).sum(1).to(at::kDouble);
  const double overlap = at::minimum(wi, wt).sum(1).mean().item<double>();
  const int64_t used_i = wi.gt(0).any(0).sum().item<int64_t>(), used_t = wt.gt(0).any(0).sum().item<int64_t>();
  const int64_t used_both = (wi.gt(0).any(0) & wt.gt(0).any(0)).sum().item<int64_t>();

  // The most used tokens: the largest mean weight over images and captions together.
  const at::Tensor usage = (wi.mean(0) + wt.mean(0)) / 2;
  const int64_t k = std::min<int64_t>(o.tokens, bank);
  const at::Tensor top = std::get<1>(usage.topk(k)).contiguous();

  // The word at the position where a top token's relevance peaks is the word that selects it.
  const at::Tensor ids = at::cat(caption_ids);                                   // [N, L]
  const at::Tensor peak = at::cat(caption_peaks).index_select(1, top).to(at::kLong);  // [N, k]
  std::vector<std::map<std::string, std::pair<double, int64_t>>> words(static_cast<size_t>(k));  // word -> (weight, count)
  {
    const auto pa = peak.accessor<int64_t, 2>();
    const auto ia = ids.accessor<int64_t, 2>();
    const auto wa = wt.accessor<float, 2>();
    const auto ta = top.accessor<int64_t, 1>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const float w = wa[i][ta[j]];
        if (w <= 0) continue;
        auto& entry = words[static_cast<size_t>(j)][run.tokenizer->token_text(ia[i][pa[i][j]])];
        entry.first += w;
        entry.second += 1;
      }
  }

  // The report: sparsity, and per top token its words and the images that weigh it most.
  TokenBankReport out;
  out.pairs = n;
  out.skipped = skipped;
  out.bank = bank;
  out.transform = transform;
  out.nonzero_per_image = {nz_i.mean().item<double>(), nz_i.min().item<double>(), nz_i.max().item<double>()};
  out.nonzero_per_caption = {nz_t.mean().item<double>(), nz_t.min().item<double>(), nz_t.max().item<double>()};
  out.used_by_images = used_i;
  out.used_by_captions = used_t;
  out.used_by_both = used_both;
  out.pair_overlap = overlap;
  const auto ta = top.accessor<int64_t, 1>();
  for (int64_t j = 0; j < k; ++j) {
    const int64_t token = ta[j];
    const at::Tensor column_i = wi.select(1, token), column_t = wt.select(1, token);
    TokenUse t;
    t.token = token;
    t.mean_weight = usage[token].item<double>();
    t.images_with_weight = column_i.gt(0).sum().item<int64_t>();
    t.captions_with_weight = column_t.gt(0).sum().item<int64_t>();
    t.mean_image_weight = column_i.mean().item<double>();
    t.mean_caption_weight = column_t.mean().item<double>();
    std::vector<std::pair<std::string, std::pair<double, int64_t>>> ranked(words[static_cast<size_t>(j)].begin(),
                                                                          words[static_cast<size_t>(j)].end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.second.first != b.second.first ? a.second.first > b.second.first : a.first < b.first;
    });
    for (size_t w = 0; w < ranked.size() && static_cast<int64_t>(w) < o.words; ++w)
      t.words.push_back({ranked[w].first, ranked[w].second.first, ranked[w].second.second});
    // Pass 2, images: the patch relevances of the images that weigh the token most.
    const int64_t count = std::min<int64_t>(o.examples, t.images_with_weight);
    if (count > 0) {
      const at::Tensor best = std::get<1>(column_i.topk(count)).contiguous();
      const auto ba = best.accessor<int64_t, 1>();
      for (int64_t x = 0; x < count; ++x) {
        const int64_t row = kept[static_cast<size_t>(ba[x])];
        TokenExample example;
        example.pixels = images.get(row, 0).image;
        const models::TokenWeights iw = fdt->image_weights(example.pixels.unsqueeze(0).to(run.device));
        example.patch_relevance = iw.relevance[0].select(1, token).to(at::kFloat).cpu();  // [g*g]
        example.image = rows.records[static_cast<size_t>(row)].image;
        example.caption = rows.records[static_cast<size_t>(row)].captions.front();
        example.weight = column_i[ba[x]].item<double>();
        t.examples.push_back(std::move(example));
      }
    }
    out.top.push_back(std::move(t));
  }
  return out;
}

}  // namespace mmcl::eval

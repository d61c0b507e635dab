// mmcl inspect: what an FDT model's token bank has learned, as in Fig. 4 of Chen et al. (CVPR 2023).
// Over the image-caption pairs of eval.data it finds the bank tokens with the largest mean weight, and
// for each one the words whose positions give the token its relevance and the images that weigh it
// most, drawn as heat maps of the per-patch relevance (PNG). It also reports the sparsity reached: how
// many tokens an image or a caption gives a non-zero weight.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/image_text.h"
#include "mmcl/models/fdt.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::cli {
namespace {

// A "hot" colour map: black -> red -> yellow -> white for v in [0, 1].
std::array<float, 3> hot(float v) {
  v = std::clamp(v, 0.0f, 1.0f);
  return {std::clamp(3 * v, 0.0f, 1.0f), std::clamp(3 * v - 1, 0.0f, 1.0f), std::clamp(3 * v - 2, 0.0f, 1.0f)};
}

// The image the model saw next to the same image under the relevance of each patch to one token.
// image: normalised [3, S, S]; patch_relevance: [g*g]. Both panels are scaled up to at least 192 px.
std::string heat_map_png(const at::Tensor& image, const at::Tensor& patch_relevance, const data::ImageTransform& t) {
  const int64_t s = image.size(1), g = static_cast<int64_t>(std::lround(std::sqrt(patch_relevance.size(0))));
  const int64_t zoom = std::max<int64_t>(1, (192 + s - 1) / s), side = s * zoom;
  at::Tensor rgb = image.to(at::kFloat).clone();
  for (int64_t c = 0; c < 3; ++c) rgb[c].mul_(t.std[static_cast<size_t>(c)]).add_(t.mean[static_cast<size_t>(c)]);
  rgb = rgb.clamp(0, 1).contiguous();
  at::Tensor v = patch_relevance.to(at::kFloat);
  const float lo = v.min().item<float>(), hi = v.max().item<float>();
  v = (hi > lo ? (v - lo) / (hi - lo) : at::zeros_like(v)).contiguous();
  const auto px = rgb.accessor<float, 3>();
  const auto heat = v.accessor<float, 1>();
  std::vector<unsigned char> out(static_cast<size_t>(side * 2 * side * 3));
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) {
      const int64_t sy = y / zoom, sx = x / zoom;
      const std::array<float, 3> h = hot(heat[(sy * g / s) * g + sx * g / s]);
      for (int64_t c = 0; c < 3; ++c) {
        const float p = px[c][sy][sx];
        const size_t left = static_cast<size_t>((y * side * 2 + x) * 3 + c);
        const size_t right = static_cast<size_t>((y * side * 2 + side + x) * 3 + c);
        out[left] = static_cast<unsigned char>(std::lround(255 * p));
        out[right] = static_cast<unsigned char>(std::lround(255 * (0.4f * p + 0.6f * h[static_cast<size_t>(c)])));
      }
    }
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  MMCL_CHECK(stbi_write_png_to_func(append, &png, static_cast<int>(side * 2), static_cast<int>(side), 3, out.data(),
                                    static_cast<int>(side * 2 * 3)),
             "could not encode a heat map as PNG");
  return png;
}

class Inspect : public EvalCommand {
 public:
  std::string name() const override { return "inspect"; }
  std::string summary() const override {
    return "FDT: the bank tokens eval.data uses most, with the words and image patches that select them, and the sparsity reached";
  }
  void add_options(CLI::App& app) override {
    EvalCommand::add_options(app);
    app.add_option("--tokens", top_tokens_, "How many of the most used bank tokens to report")->check(CLI::PositiveNumber);
    app.add_option("--examples", examples_, "Heat maps per reported token (the images that weigh it most)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--words", words_, "Words listed per reported token")->check(CLI::PositiveNumber);
    app.add_option("--limit", limit_, "Use the first N image-caption pairs of eval.data (0: all)")->check(CLI::NonNegativeNumber);
  }

 protected:
  EvalOutput evaluate(const config::RunConfig& c, eval::EvalModel& m, const Runtime& rt) override {
    auto* fdt = dynamic_cast<models::FdtImpl*>(m.model.get());
    if (!fdt)
      throw ConfigError(str_cat("eval.checkpoint: inspect reads an FDT model's token bank; this model is \"",
                                m.config.model.name, "\""));
    MMCL_CHECK(m.tokenizer, "the checkpoint has no tokenizer to read captions with");
    const auto& e = c.eval;
    data::Manifest rows = data::read_manifest(e.data, {e.image_key, e.caption_key, "", c.data.separator, ""});
    if (limit_ > 0 && static_cast<int64_t>(rows.records.size()) > limit_) rows.records.resize(static_cast<size_t>(limit_));
    const data::ImageTransform transform = data::image_transform(c.data.image, m.config.model.vision.image_size, false);
    const data::ImageTextDataset images(rows, transform, nullptr, 0);
    const int64_t ctx = m.config.model.text.context_length;

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
      image_w.push_back(fdt->image_weights(at::stack(batch).to(rt.device)).weights.to(at::kFloat).cpu());
      std::vector<std::string> texts;
      for (int64_t r : batch_rows) texts.push_back(rows.records[static_cast<size_t>(r)].captions.front());
      const at::Tensor ids = m.tokenizer->tokenize(texts, ctx);
      const models::TokenWeights tw = fdt->text_weights(ids.to(rt.device));
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
    const int64_t k = std::min<int64_t>(top_tokens_, bank);
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
          auto& entry = words[static_cast<size_t>(j)][m.tokenizer->token_text(ia[i][pa[i][j]])];
          entry.first += w;
          entry.second += 1;
        }
    }

    // Pass 2, images: heat maps for the images that weigh each top token most.
    EvalOutput out;
    nlohmann::json tokens = nlohmann::json::array();
    std::string table;
    const auto ta = top.accessor<int64_t, 1>();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t token = ta[j];
      const at::Tensor column_i = wi.select(1, token), column_t = wt.select(1, token);
      nlohmann::json t = {{"token", token},
                          {"mean_weight", usage[token].item<double>()},
                          {"images_with_weight", column_i.gt(0).sum().item<int64_t>()},
                          {"captions_with_weight", column_t.gt(0).sum().item<int64_t>()},
                          {"mean_image_weight", column_i.mean().item<double>()},
                          {"mean_caption_weight", column_t.mean().item<double>()}};
      std::vector<std::pair<std::string, std::pair<double, int64_t>>> ranked(words[static_cast<size_t>(j)].begin(),
                                                                            words[static_cast<size_t>(j)].end());
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second.first != b.second.first ? a.second.first > b.second.first : a.first < b.first;
      });
      nlohmann::json word_list = nlohmann::json::array();
      std::string word_text;
      for (size_t w = 0; w < ranked.size() && static_cast<int64_t>(w) < words_; ++w) {
        word_list.push_back({{"word", ranked[w].first}, {"weight", ranked[w].second.first}, {"captions", ranked[w].second.second}});
        word_text += (w ? ", " : "") + ranked[w].first + " (" + std::to_string(ranked[w].second.second) + ")";
      }
      t["words"] = word_list;

      nlohmann::json examples = nlohmann::json::array();
      const int64_t e_count = std::min<int64_t>(examples_, column_i.gt(0).sum().item<int64_t>());
      if (e_count > 0) {
        const at::Tensor best = std::get<1>(column_i.topk(e_count)).contiguous();
        const auto ba = best.accessor<int64_t, 1>();
        for (int64_t x = 0; x < e_count; ++x) {
          const int64_t row = kept[static_cast<size_t>(ba[x])];
          const at::Tensor image = images.get(row, 0).image;
          const models::TokenWeights iw = fdt->image_weights(image.unsqueeze(0).to(rt.device));
          const at::Tensor patches = iw.relevance[0].select(1, token).to(at::kFloat).cpu();  // [g*g]
          const std::string file = str_cat("heatmaps/token", token, "_", x + 1, ".png");
          out.files.emplace_back(file, heat_map_png(image, patches, transform));
          examples.push_back({{"image", rows.records[static_cast<size_t>(row)].image},
                              {"caption", rows.records[static_cast<size_t>(row)].captions.front()},
                              {"weight", column_i[ba[x]].item<double>()},
                              {"peak_patch", patches.argmax().item<int64_t>()},
                              {"heat_map", file}});
        }
      }
      t["examples"] = examples;
      tokens.push_back(t);
      char line[200];
      std::snprintf(line, sizeof line, "  %6lld  %8.4f  %7.1f%%  %7.1f%%  ", static_cast<long long>(token),
                    usage[token].item<double>(), 100.0 * t["images_with_weight"].get<double>() / static_cast<double>(n),
                    100.0 * t["captions_with_weight"].get<double>() / static_cast<double>(n));
      table += line + (word_text.empty() ? std::string("-") : word_text) + "\n";
    }

    out.results = {{"pairs", n},
                   {"skipped", skipped},
                   {"bank_tokens", bank},
                   {"weighting", m.config.model.fdt.weighting},
                   {"nonzero_per_image", {{"mean", nz_i.mean().item<double>()}, {"min", nz_i.min().item<double>()}, {"max", nz_i.max().item<double>()}}},
                   {"nonzero_per_caption", {{"mean", nz_t.mean().item<double>()}, {"min", nz_t.min().item<double>()}, {"max", nz_t.max().item<double>()}}},
                   {"tokens_used", {{"images", used_i}, {"captions", used_t}, {"both", used_both}}},
                   {"pair_weight_overlap", overlap},
                   {"top_tokens", tokens}};
    char head[600];
    std::snprintf(head, sizeof head,
                  "FDT token bank over %s: %lld image-caption pairs, %lld tokens (%s)\n"
                  "non-zero weights per image   %.1f (min %.0f, max %.0f)\n"
                  "non-zero weights per caption %.1f (min %.0f, max %.0f)\n"
                  "tokens used by images %lld, by captions %lld, by both %lld\n"
                  "weight a caption shares with its image (sum of min(w_image, w_caption)): %.3f\n\n"
                  "  token   mean w   images  captions  words that select it (captions)\n",
                  e.data.c_str(), static_cast<long long>(n), static_cast<long long>(bank), m.config.model.fdt.weighting.c_str(),
                  nz_i.mean().item<double>(), nz_i.min().item<double>(), nz_i.max().item<double>(), nz_t.mean().item<double>(),
                  nz_t.min().item<double>(), nz_t.max().item<double>(), static_cast<long long>(used_i),
                  static_cast<long long>(used_t), static_cast<long long>(used_both), overlap);
    out.summary = head + table + (out.files.empty() ? "" : str_cat("\nheat maps: ", out.files.size(), " PNG files in heatmaps/\n"));
    return out;
  }

 private:
  int64_t top_tokens_ = 10, examples_ = 4, words_ = 8, limit_ = 1000;
};

}  // namespace

std::unique_ptr<Command> make_inspect() { return std::make_unique<Inspect>(); }

}  // namespace mmcl::cli

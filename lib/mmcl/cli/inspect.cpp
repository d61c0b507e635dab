// mmcl inspect: what an FDT model's token bank has learned (eval/token_bank.h), with the images that
// weigh each reported token most drawn as heat maps of the per-patch relevance (PNG).

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <stb_image_write.h>

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/error.h"
#include "mmcl/data/image.h"
#include "mmcl/eval/token_bank.h"

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
    app.add_option("--tokens", options_.tokens, "How many of the most used bank tokens to report")->check(CLI::PositiveNumber);
    app.add_option("--examples", options_.examples, "Heat maps per reported token (the images that weigh it most)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--words", options_.words, "Words listed per reported token")->check(CLI::PositiveNumber);
    app.add_option("--limit", options_.limit, "Use the first N image-caption pairs of eval.data (0: all)")->check(CLI::NonNegativeNumber);
  }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const eval::TokenBankReport r = eval::inspect_token_bank(run, options_);
    EvalOutput out;
    nlohmann::json tokens = nlohmann::json::array();
    std::string table;
    for (const eval::TokenUse& t : r.top) {
      nlohmann::json word_list = nlohmann::json::array();
      std::string word_text;
      for (const eval::WordUse& w : t.words) {
        word_list.push_back({{"word", w.word}, {"weight", w.weight}, {"captions", w.captions}});
        word_text += (word_text.empty() ? "" : ", ") + w.word + " (" + std::to_string(w.captions) + ")";
      }
      nlohmann::json examples = nlohmann::json::array();
      for (size_t x = 0; x < t.examples.size(); ++x) {
        const eval::TokenExample& ex = t.examples[x];
        const std::string file = str_cat("heatmaps/token", t.token, "_", x + 1, ".png");
        out.files.emplace_back(file, heat_map_png(ex.pixels, ex.patch_relevance, r.transform));
        examples.push_back({{"image", ex.image},
                            {"caption", ex.caption},
                            {"weight", ex.weight},
                            {"peak_patch", ex.patch_relevance.argmax().item<int64_t>()},
                            {"heat_map", file}});
      }
      tokens.push_back({{"token", t.token},
                        {"mean_weight", t.mean_weight},
                        {"images_with_weight", t.images_with_weight},
                        {"captions_with_weight", t.captions_with_weight},
                        {"mean_image_weight", t.mean_image_weight},
                        {"mean_caption_weight", t.mean_caption_weight},
                        {"words", word_list},
                        {"examples", examples}});
      table += format_line("  %6lld  %8.4f  %7.1f%%  %7.1f%%  ", static_cast<long long>(t.token), t.mean_weight,
                           100.0 * static_cast<double>(t.images_with_weight) / static_cast<double>(r.pairs),
                           100.0 * static_cast<double>(t.captions_with_weight) / static_cast<double>(r.pairs)) +
               (word_text.empty() ? std::string("-") : word_text) + "\n";
    }
    const std::string weighting = name_of(run.model_config.fdt.weighting);
    auto range = [](const eval::Range& x) { return nlohmann::json{{"mean", x.mean}, {"min", x.min}, {"max", x.max}}; };
    out.results = {{"pairs", r.pairs},
                   {"skipped", r.skipped},
                   {"bank_tokens", r.bank},
                   {"weighting", weighting},
                   {"nonzero_per_image", range(r.nonzero_per_image)},
                   {"nonzero_per_caption", range(r.nonzero_per_caption)},
                   {"tokens_used", {{"images", r.used_by_images}, {"captions", r.used_by_captions}, {"both", r.used_by_both}}},
                   {"pair_weight_overlap", r.pair_overlap},
                   {"top_tokens", tokens}};
    out.summary =
        format_line("FDT token bank over %s: %lld image-caption pairs, %lld tokens (%s)\n", run.config.eval.data.c_str(),
                    static_cast<long long>(r.pairs), static_cast<long long>(r.bank), weighting.c_str()) +
        format_line("non-zero weights per image   %.1f (min %.0f, max %.0f)\n", r.nonzero_per_image.mean,
                    r.nonzero_per_image.min, r.nonzero_per_image.max) +
        format_line("non-zero weights per caption %.1f (min %.0f, max %.0f)\n", r.nonzero_per_caption.mean,
                    r.nonzero_per_caption.min, r.nonzero_per_caption.max) +
        format_line("tokens used by images %lld, by captions %lld, by both %lld\n", static_cast<long long>(r.used_by_images),
                    static_cast<long long>(r.used_by_captions), static_cast<long long>(r.used_by_both)) +
        format_line("weight a caption shares with its image (sum of min(w_image, w_caption)): %.3f\n\n", r.pair_overlap) +
        "  token   mean w   images  captions  words that select it (captions)\n" + table +
        (out.files.empty() ? "" : str_cat("\nheat maps: ", out.files.size(), " PNG files in heatmaps/\n"));
    return out;
  }

 private:
  eval::InspectOptions options_;
};

}  // namespace

std::unique_ptr<Command> make_inspect() { return std::make_unique<Inspect>(); }

}  // namespace mmcl::cli

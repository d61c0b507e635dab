// mmcl search: one text or image query against an embeddings index (mmcl embed) or a folder of images
// (eval/search.h); prints the top hits with their cosine similarity, as text or JSON.

#include "mmcl/cli/eval_command.h"
#include "mmcl/core/json_text.h"
#include "mmcl/core/log.h"
#include "mmcl/eval/search.h"

namespace mmcl::cli {
namespace {

class Search : public EvalCommand {
 public:
  std::string name() const override { return "search"; }
  std::string summary() const override {
    return "Search an embeddings index (mmcl embed) or a folder of images with a text or image query";
  }
  void add_options(CLI::App& app) override {
    EvalCommand::add_options(app);
    auto* text = app.add_option("--text", text_, "A text query")->type_name("TEXT");
    auto* image = app.add_option("--image", image_, "An image file as the query")->type_name("FILE");
    text->excludes(image);
    auto* index = app.add_option("--index", index_, "embeddings.safetensors written by mmcl embed (or by retrieve with "
                                                     "eval.export_embeddings)")->type_name("FILE");
    auto* folder = app.add_option("--folder", folder_, "A folder of images (recursively) to embed and search")->type_name("DIR");
    index->excludes(folder);
    app.add_option("--in", in_, "What to search: images, or captions (an index with captions); default: images for a "
                                "text query, the captions for an image query when the index has them")
        ->check(CLI::IsMember({"images", "captions"}));
    app.add_option("--top", top_, "Hits to show")->check(CLI::PositiveNumber);
    app.add_option("--max-images", max_images_, "--folder: refuse folders of more images than this (index them with "
                                                "mmcl embed instead)")->check(CLI::PositiveNumber);
    app.add_flag("--json", json_, "Print the hits as JSON instead of a table");
  }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    if (text_.empty() == image_.empty()) throw ConfigError("mmcl search: give one query, --text TEXT or --image FILE");
    if (index_.empty() == folder_.empty()) throw ConfigError("mmcl search: give what to search, --index FILE or --folder DIR");
    const eval::SearchIndex index = index_.empty() ? eval::index_folder(run, folder_, max_images_) : eval::read_index(index_);
    if (!index.checkpoint.empty() && !run.checkpoint.empty() && index.checkpoint != run.checkpoint &&
        index.checkpoint != run.config.eval.checkpoint)
      spdlog::warn("the index was made with {}, the query is embedded with {}: both must be the same model",
                   index.checkpoint, run.checkpoint);
    std::string in = in_;
    if (in.empty()) in = !image_.empty() && index.texts.defined() ? "captions" : "images";
    if (in == "captions" && !index.texts.defined())
      throw ConfigError(str_cat("--in captions: ", index.source, " has no captions (embed a manifest with eval.caption_key)"));
    const at::Tensor query = text_.empty() ? eval::embed_query_image(run, image_) : eval::embed_query_text(run, text_);
    const bool captions = in == "captions";
    const std::vector<eval::Hit> hits = eval::nearest(query, captions ? index.texts : index.images, top_);
    const std::vector<std::string>& names = captions ? index.captions : index.image_paths;

    EvalOutput out;
    nlohmann::json list = nlohmann::json::array();
    std::string table = format_line("%s %s against the %lld %s of %s\n", text_.empty() ? "image" : "text",
                                    json_text(nlohmann::json(text_.empty() ? image_ : text_)).c_str(),
                                    static_cast<long long>(names.size()), in.c_str(), index.source.c_str());
    for (size_t k = 0; k < hits.size(); ++k) {
      const std::string& item = names[static_cast<size_t>(hits[k].row)];
      list.push_back({{"rank", k + 1}, {"score", hits[k].score}, {captions ? "caption" : "image", item}});
      table += format_line("%4zu  %.4f  %s\n", k + 1, hits[k].score, item.c_str());
    }
    out.results = {{"query", text_.empty() ? nlohmann::json{{"image", image_}} : nlohmann::json{{"text", text_}}},
                   {"index", index.source},
                   {"searched", in},
                   {"items", names.size()},
                   {"hits", list}};
    out.summary = json_ ? json_text(out.results, 2) + "\n" : table;
    return out;
  }

 private:
  std::string text_, image_, index_, folder_, in_;
  int64_t top_ = 10, max_images_ = 10000;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_search() { return std::make_unique<Search>(); }

}  // namespace mmcl::cli

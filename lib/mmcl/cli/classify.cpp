// mmcl classify IMAGE... --classes a,b,c: zero-shot classification of single images (eval/zeroshot.h).

#include <fstream>
#include <sstream>

#include "mmcl/cli/eval_command.h"
#include "mmcl/eval/zeroshot.h"

namespace mmcl::cli {
namespace {

class Classify : public EvalCommand {
 public:
  std::string name() const override { return "classify"; }
  std::string summary() const override {
    return "Zero-shot classification of image files among the classes given (a checkpoint or pretrained weights)";
  }
  void add_options(CLI::App& app) override {
    EvalCommand::add_options(app);
    app.add_option("images", images_, "Image files")->required();
    app.add_option("--classes", classes_, "Class names, comma-separated")->delimiter(',');
    app.add_option("--classes-file", classes_file_, "A file of class names, one a line (open_clip's classnames format)");
    app.add_option("--top", top_, "Classes reported per image")->check(CLI::PositiveNumber);
  }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    std::vector<std::string> classes = classes_;
    if (!classes_file_.empty()) {
      std::ifstream in(classes_file_);
      if (!in) throw ConfigError(str_cat("--classes-file: ", classes_file_, ": not found or unreadable"));
      for (std::string line; std::getline(in, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) classes.push_back(line);
      }
    }
    if (classes.empty()) classes = run.config.eval.classnames;
    const eval::ClassifyResult r = eval::classify_images(run, images_, classes, top_);
    EvalOutput out;
    nlohmann::json images = nlohmann::json::array();
    std::ostringstream s;
    for (const auto& c : r.images) {
      nlohmann::json top = nlohmann::json::array();
      s << c.image << "\n";
      for (const auto& [cls, p] : c.top) {
        top.push_back({{"class", cls}, {"probability", p}});
        s << format_line("  %6.2f%%  %s\n", 100 * p, cls.c_str());
      }
      images.push_back({{"image", c.image}, {"top", top}, {"similarity", c.similarity}});
    }
    for (const auto& f : r.skipped) s << f << "\n  unreadable: skipped\n";
    out.results = {{"classes", classes}, {"templates", run.config.eval.templates}, {"images", images},
                   {"skipped", r.skipped}};
    out.summary = s.str();
    return out;
  }

 private:
  std::vector<std::string> images_, classes_;
  std::string classes_file_;
  int64_t top_ = 5;
};

}  // namespace

std::unique_ptr<Command> make_classify() { return std::make_unique<Classify>(); }

}  // namespace mmcl::cli

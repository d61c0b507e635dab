// mmcl classify IMAGE... --classes a,b,c: zero-shot classification of single images (eval/zeroshot.h).

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
    // Read as eval.classnames FILE is (config/schema.cpp: one a line or a JSON list, size and UTF-8 checked).
    app.add_option_function<std::string>(
           "--classes-file", [this](const std::string& file) { options_.sets.push_back("eval.classnames=" + file); },
           "A file of class names, one a line or a JSON list (open_clip's classnames format); as eval.classnames: FILE")
        ->type_name("FILE");
    app.add_option("--top", top_, "Classes reported per image")->check(CLI::PositiveNumber);
  }

 protected:
  EvalOutput evaluate(const run::Run& run) override {
    const std::vector<std::string>& classes = classes_.empty() ? run.config.eval.classnames : classes_;
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
  int64_t top_ = 5;
};

}  // namespace

std::unique_ptr<Command> make_classify() { return std::make_unique<Classify>(); }

}  // namespace mmcl::cli

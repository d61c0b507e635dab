// mmcl tokenize: show how captions become token ids.

#include <iostream>

#include <nlohmann/json.hpp>

#include "mmcl/core/json_text.h"
#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/run/run.h"
#include "mmcl/text/factory.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class Tokenize : public Command {
 public:
  std::string name() const override { return "tokenize"; }
  std::string summary() const override { return "Print the token ids of each TEXT as JSON, one line per text"; }
  void add_options(CLI::App& app) override {
    auto* vocab = app.add_option("--vocab", vocab_, "CLIP BPE vocabulary (.txt.gz) or a learned vocabulary (.json); "
                                                 "default: the built-in CLIP BPE")
                      ->type_name("FILE");
    app.add_option("--config", config_, "Run config: its tokenizer (a words tokenizer is learned from data.train)")
        ->type_name("FILE")
        ->excludes(vocab);
    app.add_option("--set", sets_, "Override a config key (with --config)")->type_name("KEY=VALUE");
    app.add_option("--context-length", context_, "Tokens per text, start and end included (default: 77, or the "
                                                 "model's with --config)");
    app.add_option("text", texts_, "Texts to tokenize")->required();
  }
  int run() override {
    std::shared_ptr<const text::Tokenizer> tokenizer;
    int64_t context = context_ > 0 ? context_ : 77;
    if (!config_.empty()) {
      run::Request request;
      request.model = run::ModelFrom::none;
      const run::Run run = run::resolve(config::load_config(config_, sets_, name()), request);
      tokenizer = run.tokenizer;
      if (!tokenizer)
        throw ConfigError(str_cat(config_, ": data.type ", run.config.data.type, " has no captions to tokenize"));
      if (context_ <= 0) context = run.config.model.text.context_length;
    } else if (ends_with(vocab_, ".json")) {
      tokenizer = std::make_shared<text::WordVocab>(text::WordVocab::from_json(read_file(vocab_)));
    } else {
      tokenizer = text::load_clip_bpe(vocab_);  // "" : the built-in copy
    }
    if (context < 2) throw ConfigError("--context-length: expected an integer >= 2");
    for (const std::string& t : texts_)
      std::cout << json_text(nlohmann::json{{"text", t}, {"ids", tokenizer->tokenize(t, context)}}) << "\n";
    return 0;
  }

 private:
  std::string vocab_, config_;
  std::vector<std::string> sets_, texts_;
  int64_t context_ = 0;
};

}  // namespace

std::unique_ptr<Command> make_tokenize() { return std::make_unique<Tokenize>(); }

}  // namespace mmcl::cli

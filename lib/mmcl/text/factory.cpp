#include "mmcl/text/factory.h"

#include <filesystem>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::text {

TrainingTokenizer training_tokenizer(const config::TokenizerConfig& c,
                                     const std::function<std::vector<std::string>()>& captions) {
  TrainingTokenizer out;
  if (c.name == TokenizerKind::words) {
    const std::vector<std::string> texts = captions();
    auto vocab = std::make_shared<WordVocab>(WordVocab::learn(texts, c.max_words, c.min_count));
    spdlog::info("learned a vocabulary of {} words from {} captions", vocab->words().size(), texts.size());
    out.state = vocab->to_json();
    out.vocab_size = vocab->vocab_size();
    out.tokenizer = vocab;
    return out;
  }
  out.tokenizer = load_clip_bpe(c.vocab);
  out.vocab_size = out.tokenizer->vocab_size();
  return out;
}

std::shared_ptr<const Tokenizer> restore_tokenizer(const config::TokenizerConfig& c, const std::string& state,
                                                   const std::string& vocab_override) {
  if (!state.empty()) return std::make_shared<WordVocab>(WordVocab::from_json(state));
  const std::string vocab = vocab_override.empty() ? c.vocab : vocab_override;
  std::error_code ec;
  if (!vocab.empty() && !std::filesystem::is_regular_file(vocab, ec)) {
    // The standard file moved or stayed on another machine: the built-in copy is that file.
    spdlog::warn("tokenizer.vocab \"{}\" is not here: using the built-in CLIP BPE vocabulary (--set tokenizer.vocab=PATH "
                 "for another file)", vocab);
    return load_clip_bpe("");
  }
  return load_clip_bpe(vocab);
}

}  // namespace mmcl::text

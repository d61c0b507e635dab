#include "mmcl/text/factory.h"

#include <filesystem>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/data/dataset.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::text {

TrainingTokenizer training_tokenizer(config::RunConfig& c) {
  TrainingTokenizer out;
  if (c.data.type == "synthetic") return out;  // ids are generated directly
  if (c.model.name == "cvrl") return out;      // clips without captions
  if (c.tokenizer.name == "words") {
    const std::vector<std::string> captions = data::training_captions(c.data);
    auto vocab = std::make_shared<WordVocab>(WordVocab::learn(captions, c.tokenizer.max_words, c.tokenizer.min_count));
    spdlog::info("learned a vocabulary of {} words from {} captions; model.text.vocab_size {} -> {}",
                 vocab->words().size(), captions.size(), c.model.text.vocab_size, vocab->vocab_size());
    c.model.text.vocab_size = vocab->vocab_size();
    out.state = vocab->to_json();
    out.tokenizer = vocab;
    return out;
  }
  out.tokenizer = load_clip_bpe(c.tokenizer.vocab);
  if (out.tokenizer->vocab_size() != c.model.text.vocab_size)
    throw ConfigError(str_cat("model.text.vocab_size: ", c.model.text.vocab_size, " does not match the ",
                              out.tokenizer->vocab_size(), " tokens of ", c.tokenizer.vocab));
  return out;
}

std::shared_ptr<const Tokenizer> restore_tokenizer(const config::TokenizerConfig& c, const std::string& state,
                                                   const std::string& vocab_override) {
  if (!state.empty()) return std::make_shared<WordVocab>(WordVocab::from_json(state));
  const std::string vocab = vocab_override.empty() ? c.vocab : vocab_override;
  std::error_code ec;
  if (vocab.empty() || !std::filesystem::is_regular_file(vocab, ec))
    throw ConfigError(str_cat("tokenizer.vocab: the checkpoint uses CLIP BPE with \"", c.vocab,
                              "\", which is not here; pass --set tokenizer.vocab=PATH"));
  return load_clip_bpe(vocab);
}

}  // namespace mmcl::text

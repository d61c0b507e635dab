#pragma once
// Which tokenizer a run uses, and how it travels with checkpoints.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mmcl/config/config.h"

namespace mmcl::text {

class Tokenizer;

struct TrainingTokenizer {
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string state;       // a learned vocabulary as JSON, "" for CLIP BPE
  int64_t vocab_size = 0;  // the ids it produces: the text tower's model.text.vocab_size
};

// The tokenizer for training: CLIP BPE from tokenizer.vocab (empty: the built-in copy), or (tokenizer.name words) a vocabulary
// learned from `captions()` (the training captions, read only then). Config problems are ConfigErrors.
TrainingTokenizer training_tokenizer(const config::TokenizerConfig& config,
                                     const std::function<std::vector<std::string>()>& captions);

// The tokenizer a checkpoint was trained with: its stored vocabulary, else CLIP BPE from
// `vocab_override` when given, else from the checkpoint config's tokenizer.vocab; the built-in copy when
// that is empty or no longer there (logged).
std::shared_ptr<const Tokenizer> restore_tokenizer(const config::TokenizerConfig& config, const std::string& state,
                                                   const std::string& vocab_override);

}  // namespace mmcl::text

#pragma once
// Which tokenizer a run uses, and how it travels with checkpoints.

#include <memory>
#include <string>

#include "mmcl/config/config.h"

namespace mmcl::text {

class Tokenizer;

struct TrainingTokenizer {
  std::shared_ptr<const Tokenizer> tokenizer;  // null for data without captions (synthetic)
  std::string state;                           // a learned vocabulary as JSON, "" for CLIP BPE
};

// The tokenizer for pretraining with `config`: CLIP BPE from tokenizer.vocab, or (tokenizer.name
// words) a vocabulary learned from the captions of data.train. With a learned vocabulary,
// config.model.text.vocab_size is set to its size. Config problems are ConfigErrors.
TrainingTokenizer training_tokenizer(config::RunConfig& config);

// The tokenizer a checkpoint was trained with: its stored vocabulary, else CLIP BPE from
// `vocab_override` when given, else from the checkpoint config's tokenizer.vocab.
std::shared_ptr<const Tokenizer> restore_tokenizer(const config::TokenizerConfig& config, const std::string& state,
                                                   const std::string& vocab_override);

}  // namespace mmcl::text

// CLIP's BPE on any bytes: cleaning, splitting, merging, and open_clip's tokenize() around it. The
// vocabulary is CLIP's file, from MMCL_FUZZ_BPE or ../shared/clip beside the source tree.
#include <cstdlib>

#include "fuzz.h"
#include "mmcl/text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizer = [] {
    const char* env = std::getenv("MMCL_FUZZ_BPE");
    return mmcl::text::load_clip_bpe(env ? env : MMCL_SOURCE_DIR "/../shared/clip/bpe_simple_vocab_16e6.txt.gz");
  }();
  const std::string input = mmcl::fuzz::text(data, size);
  const auto ids = tokenizer->tokenize(input, 77);
  if (ids.size() != 77) std::abort();
  for (int64_t id : ids)
    if (id < 0 || id >= tokenizer->vocab_size()) std::abort();
  for (int64_t id : tokenizer->encode(input)) (void)tokenizer->token_text(id);
  return 0;
}

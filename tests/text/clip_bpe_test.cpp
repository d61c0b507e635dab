#include <algorithm>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/text/tokenizer.h"
#include "util.h"

using namespace mmcl::test;

namespace {
// CLIP's vocabulary from ../shared, or null (with a visible skip message) when it is absent.
std::shared_ptr<const mmcl::text::Tokenizer> shared_clip_bpe(const char* what) {
  if (shared_dir().empty()) {
    CATCH_WARN(std::string("SKIPPED: ../shared not found; ") + what + " not checked");
    return nullptr;
  }
  return mmcl::text::load_clip_bpe((shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz").string());
}
}  // namespace

CATCH_TEST_CASE("CLIP BPE reproduces open_clip's token ids", "[text][fixtures]") {
  const auto tokenizer = shared_clip_bpe("CLIP tokenizer parity");
  if (!tokenizer) return;
  const auto shared = shared_dir();
  CATCH_CHECK(tokenizer->vocab_size() == 49408);
  CATCH_CHECK(tokenizer->start_token() == 49406);
  CATCH_CHECK(tokenizer->end_token() == 49407);
  for (const char* name : {"clip_tokenizer_ctx77.jsonl", "clip_tokenizer_ctx16.jsonl"}) {
    std::istringstream in(read_text(shared / "fixtures" / name));
    int cases = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line);
      const std::string text = j["text"];
      CATCH_CAPTURE(name, text);
      CATCH_CHECK(tokenizer->tokenize(text, j["context_length"].get<int64_t>()) == j["ids"].get<std::vector<int64_t>>());
      ++cases;
    }
    CATCH_CHECK(cases >= 10);
  }
}

CATCH_TEST_CASE("CLIP BPE clean-up and errors", "[text][fixtures]") {
  const auto tokenizer = shared_clip_bpe("CLIP tokenizer clean-up");
  if (!tokenizer) return;
  const auto shared = shared_dir();
  // html entities (twice escaped too), whitespace runs and case do not change the ids.
  const auto plain = tokenizer->encode("fish & chips \"here\"");
  fuzz_seed("bpe_fuzz", "entities", "  FISH &amp;amp; CHIPS\t\n&#34;here&#x22; ");
  fuzz_seed("bpe_fuzz", "accents", "A photograph of a Caf\xc3\xa9, na\xc3\xafvely");
  CATCH_CHECK(tokenizer->encode("Fish &amp; chips   &quot;here&quot;") == plain);
  CATCH_CHECK(tokenizer->encode("  FISH &amp;amp; CHIPS\t\n&#34;here&#x22; ") == plain);
  CATCH_CHECK(tokenizer->encode("").empty());

  // Ids back to text: word-final pieces lose their end-of-word marker, bytes come back as UTF-8.
  std::string joined;
  for (int64_t id : tokenizer->encode("A photograph of a Café, naïvely")) {
    CATCH_CHECK(!tokenizer->token_text(id).empty());
    joined += tokenizer->token_text(id);
  }
  CATCH_CHECK(joined == "aphotographofacafé,naïvely");
  CATCH_CHECK(tokenizer->token_text(tokenizer->encode("photograph").front()) == "photograph");
  CATCH_CHECK(tokenizer->token_text(49407) == "<|endoftext|>");

  CATCH_CHECK_THROWS_WITH(mmcl::text::load_clip_bpe("/nonexistent/vocab.txt.gz"),
                          Catch::Contains("/nonexistent/vocab.txt.gz"));
  TempDir dir;
  write_text(dir / "bad.txt.gz", "not gzip and far too short");
  CATCH_CHECK_THROWS_AS(mmcl::text::load_clip_bpe((dir / "bad.txt.gz").string()), mmcl::Error);

  const auto r = run_mmcl("tokenize --vocab '" + (shared / "clip/bpe_simple_vocab_16e6.txt.gz").string() +
                              "' --context-length 8 'a photo of a cat' 'an ankle boot'",
                          dir.path());
  CATCH_CHECK(r.exit_code == 0);
  CATCH_CHECK(r.output ==
              "{\"ids\":[49406,320,1125,539,320,2368,49407,0],\"text\":\"a photo of a cat\"}\n"
              "{\"ids\":[49406,550,14777,8087,49407,0,0,0],\"text\":\"an ankle boot\"}\n");
  CATCH_CHECK(run_mmcl("tokenize 'a cat'", dir.path()).exit_code == 2);
}

CATCH_TEST_CASE("CLIP BPE cuts a word past 1000 characters before merging (merging is quadratic in its length)", "[text][fixtures]") {
  const auto tokenizer = shared_clip_bpe("the cut of very long words");
  if (!tokenizer) return;
  const auto cut = tokenizer->encode(std::string(1000, 'q'));
  CATCH_CHECK(tokenizer->encode(std::string(80000, 'q')) == cut);
  CATCH_CHECK(cut.size() <= 1000u);
  // Words below the cut are untouched, and so is the text around a long one.
  CATCH_CHECK(tokenizer->encode(std::string(999, 'q')) != cut);
  const auto around = tokenizer->encode("a " + std::string(5000, 'q') + " photo");
  const auto photo = tokenizer->encode("photo");
  CATCH_CHECK(std::equal(photo.rbegin(), photo.rend(), around.rbegin()));
  // A caption of 100,000 distinct words tokenizes (the word cache starts over when full).
  std::string many;
  for (int i = 0; i < 100000; ++i) many += "w" + std::to_string(i) + " ";
  CATCH_CHECK(tokenizer->tokenize(many, 77).size() == 77u);
}

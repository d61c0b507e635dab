#include <algorithm>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/text/tokenizer.h"
#include "fixtures.h"
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

CATCH_TEST_CASE("the built-in CLIP BPE vocabulary is the MIT file of third_party/clip", "[text]") {
  const std::string_view builtin = mmcl::text::builtin_clip_bpe_gz();
  const std::string file = read_text(fs::path(MMCL_SOURCE_DIR) / "third_party/clip/bpe_simple_vocab_16e6.txt.gz");
  CATCH_CHECK(builtin.size() == file.size());
  CATCH_CHECK(builtin == file);
  if (!shared_dir().empty())
    CATCH_CHECK(builtin == read_text(shared_dir() / "clip/bpe_simple_vocab_16e6.txt.gz"));
  const auto tokenizer = mmcl::text::load_clip_bpe("");
  CATCH_CHECK(tokenizer->vocab_size() == 49408);
  CATCH_CHECK(mmcl::text::load_clip_bpe("") == tokenizer);  // built once
  // The ids open_clip gives (its tokenizer, same file) for two captions.
  CATCH_CHECK(tokenizer->tokenize("a photo of a cat", 8) == std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407, 0});
  TempDir dir;
  const auto r = run_mmcl("tokenize --context-length 8 'an ankle boot'", dir.path());
  CATCH_CHECK(r.exit_code == 0);
  CATCH_CHECK(r.output == "{\"ids\":[49406,550,14777,8087,49407,0,0,0],\"text\":\"an ankle boot\"}\n");
}

CATCH_TEST_CASE("CLIP BPE reproduces open_clip's token ids", "[text][fixtures]") {
  const auto from_file = shared_clip_bpe("CLIP tokenizer parity");
  if (!from_file) return;
  const auto shared = shared_dir();
  for (const auto& tokenizer : {from_file, mmcl::text::load_clip_bpe("")}) {
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
  CATCH_CHECK(run_mmcl("tokenize --context-length 8 'a photo of a cat'", dir.path()).output ==
              "{\"ids\":[49406,320,1125,539,320,2368,49407,0],\"text\":\"a photo of a cat\"}\n");
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

CATCH_TEST_CASE("a CLIP BPE model trains and evaluates with no vocabulary file", "[text][cli]") {
  TempDir dir;
  mmcl::test::write_colour_squares(dir.path());
  write_text(dir / "run.yaml",
             "run: {name: bpe, seed: 1}\n"
             "runtime: {device: cpu, threads: 1}\n"
             "model: {preset: " + fixture_path("models/tiny-clip-16.yaml") + "}\n"
             "data: {type: manifest, train: train.csv, batch_size: 8, workers: 1}\n"
             "tokenizer: {name: clip_bpe}\n"
             "train: {steps: 2}\n"
             "eval: {data: test.csv, templates: ['a {} square']}\n");
  const auto pre = run_mmcl("pretrain --config run.yaml", dir.path());
  CATCH_CAPTURE(pre.output);
  CATCH_REQUIRE(pre.exit_code == 0);
  const auto zs = run_mmcl("zeroshot --config run.yaml --set run.name=zs --set eval.checkpoint=runs/bpe", dir.path());
  CATCH_CAPTURE(zs.output);
  CATCH_CHECK(zs.exit_code == 0);
  // A run trained with a vocabulary file that is gone when it is evaluated: the built-in copy, said so.
  fs::copy_file(fs::path(MMCL_SOURCE_DIR) / "third_party/clip/bpe_simple_vocab_16e6.txt.gz", dir / "v.txt.gz");
  CATCH_REQUIRE(run_mmcl("pretrain --config run.yaml --set run.name=file --set tokenizer.vocab=v.txt.gz", dir.path())
                    .exit_code == 0);
  fs::remove(dir / "v.txt.gz");
  const auto moved = run_mmcl("zeroshot --config run.yaml --set run.name=zs2 --set eval.checkpoint=runs/file", dir.path());
  CATCH_CAPTURE(moved.output);
  CATCH_CHECK(moved.exit_code == 0);
  CATCH_CHECK(moved.output.find("tokenizer.vocab \"v.txt.gz\" is not here: using the built-in CLIP BPE vocabulary") !=
              std::string::npos);
  // A user's own tokenizer.vocab must exist.
  const auto missing = run_mmcl("pretrain --config run.yaml --set run.name=x --set tokenizer.vocab=gone.txt.gz", dir.path());
  CATCH_CHECK(missing.exit_code == 2);
  CATCH_CHECK(missing.output.find("tokenizer.vocab: file not found: \"gone.txt.gz\"") != std::string::npos);
}

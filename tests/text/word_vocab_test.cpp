#include "mmcl/core/error.h"
#include "mmcl/text/tokenizer.h"
#include "util.h"

using mmcl::text::WordVocab;

CATCH_TEST_CASE("word vocabularies: learned by frequency, unknown words, truncation, JSON round trip", "[text]") {
  CATCH_CHECK(mmcl::text::split_words("A  T-shirt/top, 42!") ==
              std::vector<std::string>{"a", "t", "-", "shirt", "/", "top", ",", "4", "2", "!"});
  const WordVocab v = WordVocab::learn({"a red square", "a blue square", "A red circle"}, 10, 1);
  // a:3, red:2, square:2, blue:1, circle:1 -> ties by spelling
  CATCH_CHECK(v.words() == std::vector<std::string>{"a", "red", "square", "blue", "circle"});
  CATCH_CHECK(v.vocab_size() == 9);
  CATCH_CHECK(v.end_token() == 8);
  CATCH_CHECK(v.start_token() == 7);
  CATCH_CHECK(v.encode("A green square") == std::vector<int64_t>{2, WordVocab::kUnknown, 4});
  CATCH_CHECK(v.tokenize("a red square", 6) == std::vector<int64_t>{7, 2, 3, 4, 8, 0});
  CATCH_CHECK(v.tokenize("a red square a red square", 4) == std::vector<int64_t>{7, 2, 3, 8});  // end kept last
  CATCH_CHECK(WordVocab::learn({"a red square", "a blue square", "A red circle"}, 2, 1).words() ==
              std::vector<std::string>{"a", "red"});
  CATCH_CHECK(WordVocab::learn({"a red square", "a blue square"}, 10, 2).words() ==
              std::vector<std::string>{"a", "square"});
  // Ids back to text, for reports.
  std::vector<std::string> texts;
  for (int64_t id : v.tokenize("a blue thing", 7)) texts.push_back(v.token_text(id));
  CATCH_CHECK(texts == std::vector<std::string>{"<start>", "a", "blue", "<unk>", "<end>", "<pad>", "<pad>"});
  CATCH_CHECK(v.token_text(99) == "<99>");
  const WordVocab back = WordVocab::from_json(v.to_json());
  CATCH_CHECK(back.words() == v.words());
  CATCH_CHECK_THROWS_AS(WordVocab::from_json("{}"), mmcl::Error);
}

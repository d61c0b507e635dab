// word2vec files: text and binary formats, GloVe's headerless text, wanted words only, lower-case
// fallback, and every malformed file an error naming it.
#include <cstring>
#include <fstream>

#include "mmcl/core/error.h"
#include "mmcl/text/word_vectors.h"
#include "util.h"

using namespace mmcl;
using namespace mmcl::test;

namespace {

void write_binary(const fs::path& path, const std::vector<std::pair<std::string, std::vector<float>>>& entries,
                  int64_t dim, int64_t announced = -1, size_t cut = 0) {
  std::string bytes = std::to_string(announced < 0 ? static_cast<int64_t>(entries.size()) : announced) + " " +
                      std::to_string(dim) + "\n";
  for (const auto& [word, v] : entries) {
    bytes += word + " ";
    bytes.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    bytes += "\n";
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() - cut));
}

}  // namespace

CATCH_TEST_CASE("word2vec text and binary files give the vectors of the wanted words", "[text]") {
  TempDir dir;
  const std::unordered_set<std::string> wanted = {"cat", "dog", "paris", "absent"};
  write_text(dir / "v.txt", "4 3\ncat 0.5 -1 2\nbird 1 1 1\nParis 3 3 3\ndog 1e-2 0 -0.25\n");
  const text::WordVectors t = text::read_word_vectors((dir / "v.txt").string(), wanted);
  CATCH_CHECK(t.dim == 3);
  CATCH_CHECK(t.words_read == 4);
  CATCH_CHECK(t.vectors.size() == 3);
  CATCH_CHECK(t.vectors.at("cat") == std::vector<float>{0.5f, -1.0f, 2.0f});
  CATCH_CHECK(t.vectors.at("dog") == std::vector<float>{0.01f, 0.0f, -0.25f});
  CATCH_CHECK(t.vectors.at("paris") == std::vector<float>{3.0f, 3.0f, 3.0f});  // lower-cased "Paris"

  // The binary format; an exact spelling wins over an earlier lower-cased one.
  write_binary(dir / "v.bin", {{"Cat", {9, 9}}, {"cat", {1.5f, -2.0f}}, {"DOG", {4, 5}}, {"mouse", {0, 1}}}, 2);
  const text::WordVectors b = text::read_word_vectors((dir / "v.bin").string(), wanted);
  CATCH_CHECK(b.dim == 2);
  CATCH_CHECK(b.words_read == 4);
  CATCH_CHECK(b.vectors.at("cat") == std::vector<float>{1.5f, -2.0f});
  CATCH_CHECK(b.vectors.at("dog") == std::vector<float>{4.0f, 5.0f});
  CATCH_CHECK(b.vectors.count("mouse") == 0);

  // GloVe: no header.
  write_text(dir / "glove.txt", "dog 1 2 3 4\ncat 5 6 7 8\n");
  const text::WordVectors g = text::read_word_vectors((dir / "glove.txt").string(), wanted);
  CATCH_CHECK(g.dim == 4);
  CATCH_CHECK(g.vectors.at("cat") == std::vector<float>{5, 6, 7, 8});
  CATCH_CHECK(g.vectors.at("dog") == std::vector<float>{1, 2, 3, 4});
}

CATCH_TEST_CASE("malformed word vector files are errors naming the file and the entry", "[text]") {
  TempDir dir;
  const std::unordered_set<std::string> wanted = {"cat"};
  const auto error_of = [&](const std::string& name) {
    try {
      text::read_word_vectors((dir / name).string(), wanted);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  write_text(dir / "short.txt", "2 3\ncat 1 2 3\ndog 1 2\n");
  CATCH_CHECK(error_of("short.txt").find("entry 2") != std::string::npos);
  write_text(dir / "nan.txt", "1 2\ncat nan 1\n");
  CATCH_CHECK(error_of("nan.txt").find("nan.txt: entry 1 (\"cat\"): expected 2 finite numbers") != std::string::npos);
  write_text(dir / "few.txt", "3 2\ncat 1 2\n");
  CATCH_CHECK(error_of("few.txt").find("announces 3") != std::string::npos);
  write_text(dir / "huge.txt", "1 99999999\ncat 1\n");
  CATCH_CHECK(error_of("huge.txt").find("dimension") != std::string::npos);
  write_text(dir / "empty.txt", "");
  CATCH_CHECK(error_of("empty.txt").find("empty") != std::string::npos);
  write_text(dir / "junk.txt", "hello world\n");
  CATCH_CHECK(error_of("junk.txt").find("neither") != std::string::npos);
  write_binary(dir / "cut.bin", {{"cat", {1, 2, 3}}, {"dog", {4, 5, 6}}}, 3, -1, 6);
  CATCH_CHECK(error_of("cut.bin").find("ends inside") != std::string::npos);
  float inf = 1.0f / 0.0f;
  write_binary(dir / "inf.bin", {{"cat", {1, inf}}}, 2);
  CATCH_CHECK(error_of("inf.bin").find("non-finite") != std::string::npos);
  CATCH_CHECK(error_of("missing.bin").find("not found") != std::string::npos);
}

#pragma once
// Word vectors from word2vec files (Mikolov et al. 2013): a header line "COUNT DIM", then per word the
// word, a space and its vector, either as DIM numbers in text ending the line (word2vec's text format,
// fastText's .vec) or as DIM little-endian float32 (word2vec's binary format, e.g. GoogleNews, with an
// optional newline after each). GloVe's text files, without a header, are read too. The format is told
// from the first entry. Only the vectors of wanted words are kept, so a multi-gigabyte file costs the
// memory of those alone.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mmcl::text {

struct WordVectors {
  int64_t dim = 0;
  int64_t words_read = 0;
  // The wanted words found: a file word that is wanted as it is, else the first file word whose
  // lower-cased spelling is wanted (files list frequent words first).
  std::unordered_map<std::string, std::vector<float>> vectors;
};

// Throws ConfigError naming the file (and the entry) when it is missing, malformed, truncated, holds a
// non-finite number, or has an implausible header (dimension above 65536).
WordVectors read_word_vectors(const std::string& path, const std::unordered_set<std::string>& wanted);

}  // namespace mmcl::text

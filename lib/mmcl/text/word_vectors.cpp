#include "mmcl/text/word_vectors.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "mmcl/core/error.h"
#include "mmcl/core/utf8.h"

namespace mmcl::text {
namespace {

constexpr int64_t kMaxDim = 65536;
constexpr size_t kMaxWord = 4096;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "rb")) {
    if (!f_) throw ConfigError(str_cat(path, ": word vector file not found or unreadable"));
  }
  [[noreturn]] void fail(const std::string& why) const { throw ConfigError(str_cat(path_, ": ", why)); }

  // One line without its '\n' (and '\r'); nullopt at the end of the file. Longer than `limit`: an error.
  std::optional<std::string> line(size_t limit, int64_t entry) {
    std::string s;
    int c;
    while ((c = std::fgetc(f_.get())) != EOF && c != '\n') {
      if (s.size() >= limit) fail(str_cat("entry ", entry, ": a line longer than ", limit, " bytes"));
      s.push_back(static_cast<char>(c));
    }
    if (c == EOF && s.empty()) return std::nullopt;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }
  // Binary format: a word up to its space (leading line breaks skipped); nullopt at the end of the file.
  std::optional<std::string> word(int64_t entry) {
    std::string s;
    int c;
    while ((c = std::fgetc(f_.get())) == '\n' || c == '\r') {
    }
    if (c == EOF) return std::nullopt;
    for (; c != ' '; c = std::fgetc(f_.get())) {
      if (c == EOF) fail(str_cat("entry ", entry, ": the file ends inside a word"));
      if (s.size() >= kMaxWord) fail(str_cat("entry ", entry, ": a word longer than ", kMaxWord, " bytes"));
      s.push_back(static_cast<char>(c));
    }
    return s;
  }
  bool floats(float* out, size_t n) { return std::fread(out, sizeof(float), n, f_.get()) == n; }
  long tell() const { return std::ftell(f_.get()); }
  void seek(long at) { std::fseek(f_.get(), at, SEEK_SET); }

 private:
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> f_;
};

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::optional<int64_t> integer(const std::string& s) {
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(s);
}

// The numbers of a text entry (fields[1..]): false unless there are exactly `dim`, all finite.
bool parse_vector(const std::vector<std::string>& fields, int64_t dim, std::vector<float>& out) {
  if (static_cast<int64_t>(fields.size()) != dim + 1) return false;
  out.resize(static_cast<size_t>(dim));
  for (int64_t i = 0; i < dim; ++i) {
    const std::string& f = fields[static_cast<size_t>(i + 1)];
    char* end = nullptr;
    const float v = std::strtof(f.c_str(), &end);
    if (end != f.c_str() + f.size() || !std::isfinite(v)) return false;
    out[static_cast<size_t>(i)] = v;
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Collector {
 public:
  Collector(const std::unordered_set<std::string>& wanted, WordVectors& out) : wanted_(wanted), out_(out) {}
  void add(const std::string& word, const std::vector<float>& v) {
    ++out_.words_read;
    if (wanted_.count(word)) {
      out_.vectors[word] = v;
      exact_.insert(word);
      return;
    }
    const std::string l = lower(word);
    if (l != word && wanted_.count(l) && !exact_.count(l)) out_.vectors.emplace(l, v);
  }

 private:
  const std::unordered_set<std::string>& wanted_;
  WordVectors& out_;
  std::unordered_set<std::string> exact_;
};

}  // namespace

WordVectors read_word_vectors(const std::string& path, const std::unordered_set<std::string>& wanted) {
  Reader in(path);
  WordVectors out;
  Collector collect(wanted, out);
  const size_t header_limit = 1 << 20;
  const std::optional<std::string> first = in.line(header_limit, 0);
  if (!first) in.fail("empty word vector file");
  const std::vector<std::string> head = split_spaces(*first);
  std::vector<float> v;
  int64_t count = -1;  // entries the header announces (-1: no header, to the end of the file)
  if (head.size() == 2 && integer(head[0]) && integer(head[1])) {
    count = *integer(head[0]);
    out.dim = *integer(head[1]);
    if (out.dim < 1 || out.dim > kMaxDim) in.fail(str_cat("header \"", *first, "\": dimension not in [1, ", kMaxDim, "]"));
  } else {
    // GloVe: no header; the first line is an entry and gives the dimension.
    out.dim = static_cast<int64_t>(head.size()) - 1;
    if (out.dim < 1 || out.dim > kMaxDim || !parse_vector(head, out.dim, v))
      in.fail("the first line is neither a \"COUNT DIM\" header nor a word and its numbers");
    collect.add(head[0], v);
  }
  const auto dim = static_cast<size_t>(out.dim);
  const size_t line_limit = kMaxWord + dim * 64 + 64;

  // Text or binary: the first entry's line splits into a word and `dim` fields only in the text format.
  bool binary = false;
  if (count != -1) {
    const long start = in.tell();
    try {
      const std::optional<std::string> probe = in.line(line_limit, 1);
      binary = probe && static_cast<int64_t>(split_spaces(*probe).size()) != out.dim + 1;
    } catch (const ConfigError&) {
      binary = true;  // no line break within a text entry's length: not text
    }
    in.seek(start);
  }
  int64_t entry = count == -1 ? 1 : 0;
  if (binary) {
    std::vector<float> vec(dim);
    while (count < 0 || entry < count) {
      const std::optional<std::string> word = in.word(entry + 1);
      if (!word) break;
      if (!in.floats(vec.data(), dim))
        in.fail(str_cat("entry ", entry + 1, " (\"", printable(*word, 40), "\"): the file ends inside its vector"));
      for (float x : vec)
        if (!std::isfinite(x)) in.fail(str_cat("entry ", entry + 1, " (\"", printable(*word, 40), "\"): a non-finite number"));
      collect.add(*word, vec);
      ++entry;
    }
  } else {
    while (count < 0 || entry < count) {
      const std::optional<std::string> l = in.line(line_limit, entry + 1);
      if (!l) break;
      const std::vector<std::string> fields = split_spaces(*l);
      if (fields.empty()) continue;
      if (!parse_vector(fields, out.dim, v))
        in.fail(str_cat("entry ", entry + 1, " (\"", printable(fields[0], 40), "\"): expected ", out.dim,
                        " finite numbers after the word"));
      collect.add(fields[0], v);
      ++entry;
    }
  }
  if (count > 0 && entry < count) in.fail(str_cat("the header announces ", count, " words, the file holds ", entry));
  return out;
}

}  // namespace mmcl::text

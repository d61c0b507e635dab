// CLIP's byte-level BPE tokenizer (Radford et al. 2021; the simple_tokenizer of OpenAI's CLIP and
// open_clip): text clean-up, lower-casing, CLIP's split pattern, bytes mapped to printable code
// points, then BPE merges from bpe_simple_vocab_16e6.txt.gz.

#include <zlib.h>

#include <climits>
#include <filesystem>
#include <clocale>
#include <cwctype>
#include <limits>
#include <locale.h>
#include <map>
#include <mutex>
#include <unordered_map>

#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/utf8.h"
#include "mmcl/text/tokenizer.h"

namespace mmcl::text {
namespace {

constexpr int64_t kMerges = 49152 - 256 - 2;
constexpr const char* kBuiltinName = "the built-in CLIP BPE vocabulary";

// Unicode classes from glibc's C.UTF-8 locale (independent of the process locale).
locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
    return l ? l : newlocale(LC_CTYPE_MASK, "C", static_cast<locale_t>(nullptr));
  }();
  return loc;
}
bool is_letter(uint32_t cp) { return iswalpha_l(static_cast<wint_t>(cp), utf8_locale()) != 0; }
bool is_number(uint32_t cp) {
  return iswdigit_l(static_cast<wint_t>(cp), utf8_locale()) != 0 ||
         (iswalnum_l(static_cast<wint_t>(cp), utf8_locale()) != 0 && !is_letter(cp));
}
bool is_space(uint32_t cp) { return iswspace_l(static_cast<wint_t>(cp), utf8_locale()) != 0 || cp == 0x85 || cp == 0xA0; }
uint32_t lower(uint32_t cp) { return static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), utf8_locale())); }

// html.unescape for the entities captions carry.
std::string unescape_html(const std::string& s) {
  static const std::map<std::string, uint32_t> named = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0},
      {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
      {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"copy", 0xA9}, {"reg", 0xAE}, {"deg", 0xB0}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      if (semi != std::string::npos && semi - i <= 10) {
        const std::string name = s.substr(i + 1, semi - i - 1);
        uint32_t cp = 0;
        bool ok = false;
        if (!name.empty() && name[0] == '#') {
          const bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
          const std::string digits = name.substr(hex ? 2 : 1);
          if (!digits.empty() && digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") == std::string::npos) {
            cp = static_cast<uint32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
            ok = cp > 0 && cp < 0x110000;
          }
        } else if (auto it = named.find(name); it != named.end()) {
          cp = it->second;
          ok = true;
        }
        if (ok) {
          out += encode_utf8(cp);
          i = semi;
          continue;
        }
      }
    }
    out += s[i];
  }
  return out;
}

class ClipBpe : public Tokenizer {
 public:
  // `lines`: the vocabulary file's lines; `path` names it in errors.
  ClipBpe(const std::vector<std::string>& lines, const std::string& path) {
    // bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n.
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    std::vector<uint32_t> cs(bs.begin(), bs.end());
    std::vector<bool> present(256, false);
    for (int b : bs) present[static_cast<size_t>(b)] = true;
    for (int b = 0, n = 0; b < 256; ++b)
      if (!present[static_cast<size_t>(b)]) bs.push_back(b), cs.push_back(256 + static_cast<uint32_t>(n++));
    for (size_t i = 0; i < bs.size(); ++i) byte_encoder_[static_cast<size_t>(bs[i])] = encode_utf8(cs[i]);

    MMCL_CHECK(static_cast<int64_t>(lines.size()) >= kMerges + 1, path, ": not a CLIP BPE vocabulary (",
               lines.size(), " lines, expected at least ", kMerges + 1, ")");
    std::vector<std::string> vocab;
    for (size_t i = 0; i < bs.size(); ++i) vocab.push_back(byte_encoder_[static_cast<size_t>(bs[i])]);
    for (size_t i = 0; i < bs.size(); ++i) vocab.push_back(byte_encoder_[static_cast<size_t>(bs[i])] + "</w>");
    for (int64_t m = 0; m < kMerges; ++m) {
      const std::string& line = lines[static_cast<size_t>(m + 1)];
      const size_t space = line.find(' ');
      MMCL_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size(), path, ":", m + 2,
                 ": not a merge (\"a b\")");
      const std::string a = line.substr(0, space), b = line.substr(space + 1);
      ranks_[a + " " + b] = m;
      vocab.push_back(a + b);
    }
    vocab.push_back("<|startoftext|>");
    vocab.push_back("<|endoftext|>");
    for (size_t i = 0; i < vocab.size(); ++i) encoder_[vocab[i]] = static_cast<int64_t>(i);
    for (size_t b = 0; b < 256; ++b) byte_decoder_[byte_encoder_[b]] = static_cast<char>(b);
    decoder_ = std::move(vocab);
    start_ = encoder_.at("<|startoftext|>");
    end_ = encoder_.at("<|endoftext|>");
  }

  int64_t start_token() const override { return start_; }
  int64_t end_token() const override { return end_; }
  int64_t vocab_size() const override { return static_cast<int64_t>(encoder_.size()); }

  std::string token_text(int64_t id) const override {
    if (id < 0 || id >= static_cast<int64_t>(decoder_.size())) return "<" + std::to_string(id) + ">";
    if (id == start_ || id == end_) return decoder_[static_cast<size_t>(id)];
    std::string piece = decoder_[static_cast<size_t>(id)];
    const std::string end_of_word = "</w>";
    if (piece.size() >= end_of_word.size() && piece.compare(piece.size() - end_of_word.size(), end_of_word.size(), end_of_word) == 0)
      piece.resize(piece.size() - end_of_word.size());
    // Each mapped character (one UTF-8 sequence) stands for one byte.
    std::string bytes;
    for (size_t i = 0; i < piece.size();) {
      size_t n = 1;
      const auto lead = static_cast<unsigned char>(piece[i]);
      if (lead >= 0xC0) n = lead >= 0xE0 ? 3 : 2;
      const auto it = byte_decoder_.find(piece.substr(i, n));
      bytes += it != byte_decoder_.end() ? it->second : '?';
      i += n;
    }
    return bytes;
  }

  std::vector<int64_t> encode(const std::string& text) const override {
    std::vector<int64_t> ids;
    for (const std::string& piece : split(clean(text))) {
      std::string mapped;
      for (unsigned char c : piece) mapped += byte_encoder_[c];
      for (const std::string& token : bpe(mapped)) {
        const auto it = encoder_.find(token);
        MMCL_CHECK(it != encoder_.end(), "BPE produced a token outside the vocabulary: ", token);
        ids.push_back(it->second);
      }
    }
    return ids;
  }

 private:
  static std::vector<std::string> split_lines(const std::string& data) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t i = 0; i <= data.size(); ++i)
      if (i == data.size() || data[i] == '\n') {
        if (i > start || i < data.size()) lines.push_back(data.substr(start, i - start));
        start = i + 1;
      }
    return lines;
  }

 public:
  // The gzip stream in memory (the built-in copy), decompressed.
  static std::vector<std::string> gunzip_lines(std::string_view gz, const std::string& name) {
    z_stream z{};
    MMCL_CHECK(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK, name, ": cannot start zlib");
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    z.avail_in = static_cast<uInt>(gz.size());
    std::string data;
    char buf[1 << 16];
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      data.append(buf, sizeof buf - z.avail_out);
      MMCL_CHECK(data.size() < (size_t{64} << 20), name, ": the BPE vocabulary decompresses to over 64 MiB");
    }
    inflateEnd(&z);
    MMCL_CHECK(rc == Z_STREAM_END, name, ": not a complete gzip stream (zlib ", rc, ")");
    return split_lines(data);
  }

  // The vocabulary file, read whole (a compressed file over 64 MiB is no CLIP vocabulary) and decompressed.
  static std::vector<std::string> read_gzip_lines(const std::string& path) {
    std::error_code ec;
    MMCL_CHECK(std::filesystem::is_regular_file(path, ec), path, ": cannot open the BPE vocabulary");
    MMCL_CHECK(std::filesystem::file_size(path, ec) < (size_t{64} << 20), path, ": over 64 MiB, not a BPE vocabulary");
    return gunzip_lines(read_file(path), path);
  }

 private:
  // basic_clean + whitespace_clean + lower(): html entities (twice), whitespace runs to one space.
  static std::vector<uint32_t> clean(const std::string& text) {
    std::vector<uint32_t> out;
    for (uint32_t cp : decode_utf8(unescape_html(unescape_html(text)))) {
      if (is_space(cp)) {
        if (!out.empty() && out.back() != ' ') out.push_back(' ');
      } else {
        out.push_back(lower(cp));
      }
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  // CLIP's pattern: <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
  static std::vector<std::string> split(const std::vector<uint32_t>& t) {
    static const std::vector<std::string> specials = {"<|startoftext|>", "<|endoftext|>"};
    static const std::vector<std::string> contractions = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    auto matches = [&](size_t i, const std::string& s) {
      if (i + s.size() > t.size()) return false;
      for (size_t k = 0; k < s.size(); ++k)
        if (t[i + k] != static_cast<unsigned char>(s[k])) return false;
      return true;
    };
    std::vector<std::string> out;
    for (size_t i = 0; i < t.size();) {
      if (is_space(t[i])) {
        ++i;
        continue;
      }
      std::string piece;
      bool done = false;
      for (const auto* group : {&specials, &contractions}) {
        for (const std::string& s : *group)
          if (!done && matches(i, s)) piece = s, i += s.size(), done = true;
      }
      if (!done) {
        if (is_letter(t[i])) {
          for (; i < t.size() && is_letter(t[i]); ++i) piece += encode_utf8(t[i]);
        } else if (is_number(t[i])) {
          piece = encode_utf8(t[i++]);
        } else {
          for (; i < t.size() && !is_space(t[i]) && !is_letter(t[i]) && !is_number(t[i]); ++i) piece += encode_utf8(t[i]);
        }
      }
      out.push_back(piece);
    }
    return out;
  }

  // Byte-pair merges of one pre-token (its characters already mapped to printable code points).
  std::vector<std::string> bpe(const std::string& token) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      if (auto it = cache_.find(token); it != cache_.end()) return it->second;
    }
    std::vector<std::string> word;
    for (uint32_t cp : decode_utf8(token)) word.push_back(encode_utf8(cp));
    // Merging is quadratic in a word's length (a word of 80,000 letters took 18 s); no real word comes
    // near the cut, and none of a longer one's tokens would fit in a context.
    if (word.size() > kMaxWordChars) word.resize(kMaxWordChars);
    word.back() += "</w>";
    while (word.size() > 1) {
      int64_t best = std::numeric_limits<int64_t>::max();
      size_t at = 0;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = ranks_.find(word[i] + " " + word[i + 1]);
        if (it != ranks_.end() && it->second < best) best = it->second, at = i;
      }
      if (best == std::numeric_limits<int64_t>::max()) break;
      // Merge every occurrence of the best pair, left to right.
      const std::string first = word[at], second = word[at + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word = std::move(merged);
    }
    std::lock_guard<std::mutex> lock(cache_mutex_);
    // Web captions hold endless distinct words: the cache starts over rather than grow for days.
    if (cache_.size() >= kMaxCached) cache_.clear();
    cache_.emplace(token, word);
    return word;
  }

  static constexpr size_t kMaxWordChars = 1000;
  static constexpr size_t kMaxCached = size_t{1} << 16;
  std::string byte_encoder_[256];
  std::unordered_map<std::string, int64_t> ranks_, encoder_;
  std::unordered_map<std::string, char> byte_decoder_;
  std::vector<std::string> decoder_;
  int64_t start_ = 0, end_ = 0;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace

std::shared_ptr<const Tokenizer> load_clip_bpe(const std::string& path) {
  if (path.empty()) {
    // Built once: every caller shares the (immutable) tokenizer.
    static const std::shared_ptr<const Tokenizer> builtin =
        std::make_shared<ClipBpe>(ClipBpe::gunzip_lines(builtin_clip_bpe_gz(), kBuiltinName), kBuiltinName);
    return builtin;
  }
  return std::make_shared<ClipBpe>(ClipBpe::read_gzip_lines(path), path);
}

}  // namespace mmcl::text

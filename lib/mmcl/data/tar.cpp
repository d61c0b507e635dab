#include "mmcl/data/tar.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include "mmcl/core/numbers.h"
#include "mmcl/data/dataset.h"

namespace mmcl::data {
namespace {

constexpr uint64_t kBlock = 512;
// A GNU long name or a pax extended header is a few hundred bytes; one of more is a damaged or hostile shard.
constexpr uint64_t kMaxHeaderData = 1 << 20;

struct File {
  std::FILE* f = nullptr;
  explicit File(const std::string& path) : f(std::fopen(path.c_str(), "rb")) {}
  ~File() {
    if (f) std::fclose(f);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  bool seek(uint64_t offset) { return fseeko(f, static_cast<off_t>(offset), SEEK_SET) == 0; }
  bool read(void* out, size_t n) { return std::fread(out, 1, n, f) == n; }
};

std::string field(const unsigned char* header, size_t offset, size_t length) {
  const char* p = reinterpret_cast<const char*>(header + offset);
  return std::string(p, strnlen(p, length));
}

// Numeric header fields: octal text, or base-256 (GNU) when the top bit of the first byte is set.
bool number(const unsigned char* header, size_t offset, size_t length, uint64_t& value) {
  value = 0;
  if (header[offset] & 0x80) {
    if (header[offset] & 0x40) return false;  // negative
    for (size_t i = 0; i < length; ++i) {
      if (value > (UINT64_MAX >> 8)) return false;  // beyond 64 bits: no file is that large
      value = (value << 8) | (i == 0 ? (header[offset] & 0x3F) : header[offset + i]);
    }
    return true;
  }
  size_t i = 0;
  while (i < length && header[offset + i] == ' ') ++i;
  bool digits = false;
  for (; i < length && header[offset + i] >= '0' && header[offset + i] <= '7'; ++i, digits = true)
    value = value * 8 + (header[offset + i] - '0');
  for (; i < length; ++i)
    if (header[offset + i] != ' ' && header[offset + i] != '\0') return false;
  return digits;
}

bool checksum_ok(const unsigned char* header) {
  uint64_t stored = 0;
  if (!number(header, 148, 8, stored)) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : header[i];
  return sum == stored;
}

// "LEN key=value\n" records of a pax extended header; picks out path and size. LEN counts the whole
// record: one shorter than its own length field, or reaching past the data, ends the header (a "-6"
// read by stoull as 2^64 - 6 once moved the position backwards, forever).
void parse_pax(const std::string& data, std::string& path, uint64_t& size, bool& has_size) {
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t space = data.find(' ', pos);
    if (space == std::string::npos) return;
    const std::optional<int64_t> length = parse_non_negative(data.substr(pos, space - pos));
    if (!length || static_cast<uint64_t>(*length) <= space - pos + 1 || static_cast<uint64_t>(*length) > data.size() - pos)
      return;
    const size_t end = pos + static_cast<size_t>(*length);
    const std::string record = data.substr(space + 1, end - space - 2);  // without the '\n'
    const size_t eq = record.find('=');
    if (eq != std::string::npos) {
      const std::string key = record.substr(0, eq), value = record.substr(eq + 1);
      if (key == "path") path = value;
      if (key == "size") {
        if (const std::optional<int64_t> n = parse_non_negative(value)) {
          size = static_cast<uint64_t>(*n);
          has_size = true;
        }
      }
    }
    pos = end;
  }
}

}  // namespace

TarIndex scan_tar(const std::string& path) {
  TarIndex index;
  File file(path);
  if (!file.f) {
    index.problem = "cannot open";
    return index;
  }
  fseeko(file.f, 0, SEEK_END);
  const uint64_t file_size = static_cast<uint64_t>(ftello(file.f));
  uint64_t pos = 0;
  std::string long_name, pax_path;
  uint64_t pax_size = 0;
  bool pax_has_size = false;
  unsigned char header[kBlock];
  while (true) {
    if (pos == file_size) break;  // no end-of-archive blocks: accepted, as tar does
    if (pos + kBlock > file_size || !file.seek(pos) || !file.read(header, kBlock)) {
      index.problem = str_cat("cut short at byte ", pos);
      break;
    }
    if (std::all_of(header, header + kBlock, [](unsigned char c) { return c == 0; })) break;  // end of archive
    if (!checksum_ok(header)) {
      index.problem = str_cat("damaged header at byte ", pos);
      break;
    }
    uint64_t size = 0;
    if (!number(header, 124, 12, size)) {
      index.problem = str_cat("damaged size field at byte ", pos);
      break;
    }
    const char type = static_cast<char>(header[156]);
    if (type == 'x' && pax_has_size) pax_has_size = false;  // a size belongs to the next member only
    if (pax_has_size && type != 'x' && type != 'g' && type != 'L') size = pax_size;
    const uint64_t data = pos + kBlock;  // <= file_size: the header was read whole
    if (size > file_size - data) {
      index.problem = str_cat("member at byte ", pos, " is cut short (", size, " bytes declared, ", file_size - data,
                              " left)");
      break;
    }
    if ((type == 'L' || type == 'x') && size > kMaxHeaderData) {
      index.problem = str_cat("a ", size, "-byte long name or pax header at byte ", pos, " (at most ", kMaxHeaderData,
                              " are read)");
      break;
    }
    if (type == 'L' || type == 'x') {  // the data describes the next member
      std::string text(size, '\0');
      if (!file.seek(data) || !file.read(text.data(), size)) {
        index.problem = str_cat("unreadable header data at byte ", pos);
        break;
      }
      if (type == 'L') long_name = text.substr(0, strnlen(text.c_str(), text.size()));
      else parse_pax(text, pax_path, pax_size, pax_has_size);
    } else {
      if (type == '0' || type == '\0' || type == '7') {
        std::string name = field(header, 0, 100);
        if (std::memcmp(header + 257, "ustar", 5) == 0) {
          const std::string prefix = field(header, 345, 155);
          if (!prefix.empty()) name = prefix + "/" + name;
        }
        if (!long_name.empty()) name = long_name;
        if (!pax_path.empty()) name = pax_path;
        index.members.push_back(TarMember{name, data, size});
      }
      long_name.clear();
      pax_path.clear();
      pax_has_size = false;
    }
    pos = data + (size + kBlock - 1) / kBlock * kBlock;
  }
  return index;
}

std::string read_file_range(const std::string& path, uint64_t offset, uint64_t size) {
  File file(path);
  std::string bytes(size, '\0');
  if (!file.f || !file.seek(offset) || !file.read(bytes.data(), size))
    throw SampleError(str_cat(path, ": cannot read ", size, " bytes at byte ", offset));
  return bytes;
}

}  // namespace mmcl::data

#include "mmcl/data/tar.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include "mmcl/core/numbers.h"
#include "mmcl/data/dataset.h"

namespace mmcl::data {
namespace {

constexpr uint64_t kBlock = 512;
// A GNU long name or a pax extended header is a few hundred bytes; one of more is a damaged or hostile shard.
constexpr uint64_t kMaxHeaderData = 1 << 20;

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

std::optional<TarMember> TarReader::next() {
  if (done_) return std::nullopt;
  auto stop = [&](std::string problem) -> std::optional<TarMember> {
    problem_ = std::move(problem);
    done_ = true;
    return std::nullopt;
  };
  const std::optional<uint64_t> stream_size = source_.size();
  std::string long_name, pax_path;
  uint64_t pax_size = 0;
  bool pax_has_size = false;
  char header_chars[kBlock];
  const auto* header = reinterpret_cast<const unsigned char*>(header_chars);
  while (true) {
    if (!skip_to(data_end_))
      return stop(str_cat("member at byte ", header_at_, " is cut short (", data_size_, " bytes declared)"));
    data_unread_ = false;
    const uint64_t pos = position_;
    if (stream_size && pos == *stream_size) break;  // no end-of-archive blocks: accepted, as tar does
    const size_t got = source_.read(header_chars, kBlock);
    position_ += got;
    if (got == 0 && !stream_size) break;
    if (got < kBlock) return stop(str_cat("cut short at byte ", pos));
    if (std::all_of(header, header + kBlock, [](unsigned char c) { return c == 0; })) break;  // end of archive
    if (!checksum_ok(header)) return stop(str_cat("damaged header at byte ", pos));
    uint64_t size = 0;
    if (!number(header, 124, 12, size)) return stop(str_cat("damaged size field at byte ", pos));
    const char type = static_cast<char>(header[156]);
    if (type == 'x' && pax_has_size) pax_has_size = false;  // a size belongs to the next member only
    if (pax_has_size && type != 'x' && type != 'g' && type != 'L') size = pax_size;
    const uint64_t data = pos + kBlock;
    // Bounded so that the padded end below cannot wrap; a file's size bounds it exactly.
    const uint64_t left = stream_size ? *stream_size - data : (uint64_t{1} << 56);
    if (size > left)
      return stop(str_cat("member at byte ", pos, " is cut short (", size, " bytes declared",
                          stream_size ? str_cat(", ", left, " left)") : std::string(")")));
    if ((type == 'L' || type == 'x') && size > kMaxHeaderData)
      return stop(str_cat("a ", size, "-byte long name or pax header at byte ", pos, " (at most ", kMaxHeaderData,
                          " are read)"));
    header_at_ = pos;
    data_size_ = size;
    data_end_ = data + (size + kBlock - 1) / kBlock * kBlock;
    if (type == 'L' || type == 'x') {  // the data describes the next member
      std::string text(size, '\0');
      if (!read_exact(text.data(), size)) return stop(str_cat("unreadable header data at byte ", pos));
      if (type == 'L') long_name = text.substr(0, strnlen(text.c_str(), text.size()));
      else parse_pax(text, pax_path, pax_size, pax_has_size);
      continue;
    }
    if (type == '0' || type == '\0' || type == '7') {
      std::string name = field(header, 0, 100);
      if (std::memcmp(header + 257, "ustar", 5) == 0) {
        const std::string prefix = field(header, 345, 155);
        if (!prefix.empty()) name = prefix + "/" + name;
      }
      if (!long_name.empty()) name = long_name;
      if (!pax_path.empty()) name = pax_path;
      data_unread_ = true;
      return TarMember{name, data, size};
    }
    long_name.clear();
    pax_path.clear();
    pax_has_size = false;
  }
  done_ = true;
  return std::nullopt;
}

bool TarReader::read_data(std::string& out) {
  out.clear();
  if (!data_unread_) return false;
  data_unread_ = false;
  // Read as it arrives, so that a stream declaring more than it holds costs only what it holds.
  constexpr uint64_t kChunk = 1 << 20;
  for (uint64_t done = 0; done < data_size_;) {
    const uint64_t n = std::min(kChunk, data_size_ - done);
    out.resize(static_cast<size_t>(done + n));
    if (!read_exact(out.data() + done, n)) {
      problem_ = str_cat("member at byte ", header_at_, " is cut short (", data_size_, " bytes declared)");
      done_ = true;
      out.clear();
      return false;
    }
    done += n;
  }
  return true;
}

bool TarReader::read_exact(char* out, uint64_t n) {
  const size_t got = source_.read(out, static_cast<size_t>(n));
  position_ += got;
  return got == n;
}

bool TarReader::skip_to(uint64_t position) {
  if (position <= position_) return true;
  const bool ok = source_.skip(position - position_);
  position_ = position;
  return ok;
}

TarIndex scan_tar(const std::string& path) {
  TarIndex index;
  if (::access(path.c_str(), R_OK) != 0) {
    index.problem = "cannot open";
    return index;
  }
  const std::unique_ptr<ByteSource> source = open_file_source(path);
  TarReader reader(*source);
  while (std::optional<TarMember> m = reader.next()) index.members.push_back(std::move(*m));
  index.problem = finish_reading(reader, *source);
  return index;
}

std::string finish_reading(const TarReader& reader, ByteSource& source) {
  std::string problem = reader.problem();
  // A source stopped where the reader found damage has not failed on its own account.
  const std::string source_problem = source.finish(problem.empty());
  if (!source_problem.empty()) problem += (problem.empty() ? "" : "; ") + source_problem;
  return problem;
}

std::string read_file_range(const std::string& path, uint64_t offset, uint64_t size) {
  std::string bytes(size, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  bool ok = fd >= 0;
  for (uint64_t done = 0; ok && done < size;) {
    const ssize_t n = ::pread(fd, bytes.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    done += ok ? static_cast<uint64_t>(n) : 0;
  }
  if (fd >= 0) ::close(fd);
  if (!ok) throw SampleError(str_cat(path, ": cannot read ", size, " bytes at byte ", offset));
  return bytes;
}

}  // namespace mmcl::data

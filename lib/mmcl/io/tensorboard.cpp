#include "mmcl/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <vector>

#include "mmcl/core/error.h"

namespace mmcl::io {
namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol buffer wire format: varints, keys (field << 3 | wire type), length-delimited fields.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, static_cast<uint64_t>(field << 3 | wire)); }
void bytes_field(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}
template <class T>
void fixed(std::string& out, int field, T value) {
  key(out, field, sizeof(T) == 8 ? 1 : 5);
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));  // little-endian hosts (x86-64, aarch64)
  out.append(raw, sizeof(T));
}
void int_field(std::string& out, int field, int64_t value) {
  key(out, field, 0);
  varint(out, static_cast<uint64_t>(value));
}

double now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

template <class T>
void put_le(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
template <class T>
T get_le(const unsigned char* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  const auto& t = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "host";
  ::gethostname(host, sizeof(host) - 1);
  path_ = dir / str_cat("events.out.tfevents.", static_cast<int64_t>(now()), ".", host, ".", ::getpid(), ".mmcl");
  out_.open(path_, std::ios::binary | std::ios::app);
  MMCL_CHECK(out_, "cannot open ", path_.string());
  std::string event;
  fixed(event, 1, now());
  bytes_field(event, 3, "brain.Event:2");
  write_record(event);
  flush();
}

void EventWriter::write_record(const std::string& bytes) {
  std::string header;
  put_le<uint64_t>(header, bytes.size());
  std::string out = header;
  put_le<uint32_t>(out, masked_crc32c(header.data(), header.size()));
  out += bytes;
  put_le<uint32_t>(out, masked_crc32c(bytes.data(), bytes.size()));
  out_.write(out.data(), static_cast<std::streamsize>(out.size()));
}

void EventWriter::flush() { out_.flush(); }

void EventWriter::write_event(const std::string& value, int64_t step) {
  std::string summary, event;
  bytes_field(summary, 1, value);
  fixed(event, 1, now());
  int_field(event, 2, step);
  bytes_field(event, 5, summary);
  write_record(event);
}

void EventWriter::scalar(const std::string& tag, double value, int64_t step) {
  std::string v;
  bytes_field(v, 1, tag);
  fixed(v, 2, static_cast<float>(value));
  write_event(v, step);
}

void EventWriter::image(const std::string& tag, const std::string& png, int64_t height, int64_t width,
                        int64_t channels, int64_t step) {
  std::string image, v;
  int_field(image, 1, height);
  int_field(image, 2, width);
  int_field(image, 3, channels);
  bytes_field(image, 4, png);
  bytes_field(v, 1, tag);
  bytes_field(v, 4, image);
  write_event(v, step);
}

void EventWriter::png(const std::string& tag, const std::string& png, int64_t step) {
  // Signature (8 bytes), IHDR length and type (8), width and height big-endian (8), depth, colour type.
  static const std::string signature("\x89PNG\r\n\x1a\n", 8);
  if (png.size() < 26 || png.compare(0, 8, signature) != 0 || png.compare(12, 4, "IHDR") != 0)
    throw Error(str_cat("TensorBoard image ", tag, ": not a PNG"));
  auto be32 = [&](size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data()) + at;
    return static_cast<int64_t>(p[0]) << 24 | static_cast<int64_t>(p[1]) << 16 | static_cast<int64_t>(p[2]) << 8 | p[3];
  };
  const int colour = static_cast<unsigned char>(png[25]);
  const int64_t channels = colour == 0 ? 1 : colour == 4 ? 2 : colour == 6 ? 4 : 3;  // grey, grey+alpha, RGBA, RGB/palette
  image(tag, png, be32(20), be32(16), channels, step);
}

std::vector<std::string> read_event_records(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MMCL_CHECK(in, "cannot open ", path.string());
  const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(all.data());
  std::vector<std::string> records;
  size_t at = 0;
  while (at < all.size()) {
    if (all.size() - at < 12) throw Error(str_cat(path.string(), ": record at byte ", at, " is cut short"));
    const auto length = get_le<uint64_t>(p + at);
    if (get_le<uint32_t>(p + at + 8) != masked_crc32c(p + at, 8))
      throw Error(str_cat(path.string(), ": bad length checksum at byte ", at));
    if (length > all.size() - at - 16) throw Error(str_cat(path.string(), ": record at byte ", at, " is cut short"));
    const std::string data = all.substr(at + 12, length);
    if (get_le<uint32_t>(p + at + 12 + length) != masked_crc32c(data.data(), data.size()))
      throw Error(str_cat(path.string(), ": bad data checksum at byte ", at));
    records.push_back(data);
    at += 16 + length;
  }
  return records;
}

}  // namespace mmcl::io

#pragma once
// TensorBoard event files, written without TensorFlow: a TFRecord stream (per record: the length as a
// little-endian uint64, its masked CRC-32C, the bytes, their masked CRC-32C) of serialized
// tensorflow.Event protos — the few fields scalars and images need, encoded by hand:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; Image image = 4; }
//   Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
// The first record carries file_version "brain.Event:2", as TensorFlow's writers.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mmcl::io {

// CRC-32C (Castagnoli), and TFRecord's masking of it: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t crc32c(const void* data, size_t size);
uint32_t masked_crc32c(const void* data, size_t size);

class EventWriter {
 public:
  // Creates `dir` and a new file events.out.tfevents.<unix seconds>.<host>.<pid>.mmcl in it.
  explicit EventWriter(const std::filesystem::path& dir);
  void scalar(const std::string& tag, double value, int64_t step);
  // An encoded image (PNG) of height x width with `channels` (1 grey, 3 RGB, 4 RGBA).
  void image(const std::string& tag, const std::string& png, int64_t height, int64_t width, int64_t channels,
             int64_t step);
  // A PNG file's bytes; its size and channels are read from its IHDR chunk (Error if it is not a PNG).
  void png(const std::string& tag, const std::string& png, int64_t step);
  // Records are buffered: flush() makes them visible to a reader now (closing the writer does too).
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_event(const std::string& summary_value, int64_t step);
  void write_record(const std::string& bytes);
  std::filesystem::path path_;
  std::ofstream out_;
};

// The serialized Event protos of a file's records, in order (for tests and `mmcl inspect`); throws
// Error on a bad length or checksum.
std::vector<std::string> read_event_records(const std::filesystem::path& path);

}  // namespace mmcl::io

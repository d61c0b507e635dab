#pragma once
// Reading tar files (POSIX ustar, GNU long names, pax headers) without unpacking them, front to back:
// from a local file (members can be skipped by seeking, and found again by offset) or from the output
// of a command (webdataset's "pipe:CMD" shards, and http(s) URLs through curl).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mmcl::data {

// A byte stream read once, front to back.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `n` bytes; fewer only at the end of the stream or on an error.
  virtual size_t read(char* out, size_t n) = 0;
  // Passes over `n` bytes (a seek for a file); false when the stream ends first.
  virtual bool skip(uint64_t n) = 0;
  // The stream's length when known (a file), to tell a cut member before reading it.
  virtual std::optional<uint64_t> size() const { return std::nullopt; }
  // Ends the stream and says what went wrong with it ("" when nothing did): a file that could not be
  // read, a command that failed (its exit status and the end of its stderr). `complete`: the stream was
  // read to its end (a command stopped early is not an error).
  virtual std::string finish(bool complete) = 0;
  // Whether members can be read again later by offset (read_file_range on the shard's path).
  virtual bool seekable() const { return false; }
};

// A shard's bytes: "pipe:COMMAND" runs COMMAND with /bin/sh and reads its stdout; "http://" and
// "https://" URLs are read with curl (which must be installed); anything else is a local file.
std::unique_ptr<ByteSource> open_source(const std::string& url);
// A local file (read with pread through a buffer; skips seek). One that cannot be opened reads as
// empty and says so in finish().
std::unique_ptr<ByteSource> open_file_source(const std::string& path);

struct TarMember {
  std::string name;
  uint64_t offset = 0;  // of the member's data in the stream
  uint64_t size = 0;
};

// The regular files of a tar stream, one after the other. Never throws for a bad stream: next()
// returns nullopt and problem() says why it stopped early.
class TarReader {
 public:
  explicit TarReader(ByteSource& source) : source_(source) {}
  // The next regular file (the data of the one before, unread or not, is passed over), or nullopt at
  // the end of the archive or where it is damaged.
  std::optional<TarMember> next();
  // The data of the member next() returned; call at most once per member. False (with problem() set)
  // when the stream ends inside it.
  bool read_data(std::string& out);
  // Why reading stopped before the end ("" when the whole archive was read): an unreadable file, a
  // damaged header, a member cut short. The members before that point are usable.
  const std::string& problem() const { return problem_; }

 private:
  bool read_exact(char* out, uint64_t n);
  bool skip_to(uint64_t position);

  ByteSource& source_;
  uint64_t position_ = 0;   // bytes consumed from the stream
  uint64_t header_at_ = 0;  // where the current member's header is
  uint64_t data_end_ = 0;   // where the current member's padded data ends
  uint64_t data_size_ = 0;  // the current member's unpadded size
  bool data_unread_ = false;
  bool done_ = false;
  std::string problem_;
};

// Ends reading `source` through `reader` once next() has returned nullopt, and says what went wrong
// ("" when nothing did): the reader's problem and the source's (a failed command, a read error), joined.
std::string finish_reading(const TarReader& reader, ByteSource& source);

struct TarIndex {
  std::vector<TarMember> members;  // regular files, in file order
  std::string problem;             // as TarReader::problem
};

// Lists the regular files of the tar at `path`, seeking past their data. Never throws for a bad file:
// see TarIndex::problem.
TarIndex scan_tar(const std::string& path);

// `size` bytes at `offset` of `path`; throws SampleError when they cannot be read.
std::string read_file_range(const std::string& path, uint64_t offset, uint64_t size);

}  // namespace mmcl::data

#pragma once
// Reading tar files (POSIX ustar, GNU long names, pax headers) without unpacking them: a scan of the
// headers finds where each member's bytes are, and members are read from there.

#include <cstdint>
#include <string>
#include <vector>

namespace mmcl::data {

struct TarMember {
  std::string name;
  uint64_t offset = 0;  // of the member's data in the file
  uint64_t size = 0;
};

struct TarIndex {
  std::vector<TarMember> members;  // regular files, in file order
  // Why the scan stopped before the end ("" when the whole file was read): an unreadable file, a
  // damaged header, a member cut short. The members before that point are usable.
  std::string problem;
};

// Lists the regular files of the tar at `path`. Never throws for a bad file: see TarIndex::problem.
TarIndex scan_tar(const std::string& path);

// `size` bytes at `offset` of `path`; throws SampleError when they cannot be read.
std::string read_file_range(const std::string& path, uint64_t offset, uint64_t size);

}  // namespace mmcl::data

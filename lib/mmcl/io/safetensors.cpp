#include "mmcl/io/safetensors.h"

#include <algorithm>
#include <limits>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/json_text.h"

namespace mmcl::io {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors stores little-endian data");

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

const std::vector<std::pair<std::string, at::ScalarType>>& dtypes() {
  static const std::vector<std::pair<std::string, at::ScalarType>> table = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"I64", at::kLong},
      {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},   {"U8", at::kByte},       {"BOOL", at::kBool}};
  return table;
}

std::string dtype_name(at::ScalarType t) {
  for (const auto& [name, type] : dtypes())
    if (type == t) return name;
  throw Error(str_cat("safetensors: unsupported dtype ", c10::toString(t)));
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> data;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    MMCL_CHECK(names.insert(name).second, path.string(), ": tensor \"", name, "\" given twice");
    MMCL_CHECK(name != "__metadata__", path.string(), ": \"__metadata__\" cannot name a tensor");
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.nbytes());
    header[name] = {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = json_text(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const uint64_t length = text.size();

  const auto temp = temp_path_for(path);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    MMCL_CHECK(out, temp.string(), ": cannot write");
    out.write(reinterpret_cast<const char*>(&length), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const at::Tensor& t : data) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
    out.flush();
    MMCL_CHECK(out, temp.string(), ": write failed");
  }
  commit_file(temp, path);
}

namespace {

// A read-only view of a whole file, mapped copy-on-write: tensors can point into it, and writing to one
// changes only this process's copy.
struct Mapping {
  void* data = MAP_FAILED;
  size_t size = 0;
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
  }
};

}  // namespace

Safetensors load_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(str_cat(file, ": cannot open"));
  struct stat st {};
  auto map = std::make_shared<Mapping>();
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    map->size = static_cast<size_t>(st.st_size);
    map->data = mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  const uint64_t file_size = map->size;
  if (file_size < 8) throw Error(str_cat(file, ": not a safetensors file (shorter than its 8-byte header length)"));
  if (map->data == MAP_FAILED) throw Error(str_cat(file, ": cannot map the file"));
  const char* bytes = static_cast<const char*>(map->data);
  uint64_t length = 0;
  std::memcpy(&length, bytes, 8);
  if (length > kMaxHeader || 8 + length > file_size)
    throw Error(str_cat(file, ": not a safetensors file (header length ", length, " for a file of ", file_size, " bytes)"));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + length);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(file, ": the safetensors header is not JSON (", e.what(), ")"));
  }
  if (!header.is_object()) throw Error(str_cat(file, ": the safetensors header is not a JSON object"));

  const uint64_t data_start = 8 + length, data_size = file_size - data_start;
  Safetensors out;
  struct Entry {
    uint64_t begin, end;
    std::string name;
    at::ScalarType type;
    std::vector<int64_t> shape;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw Error(str_cat(file, ": __metadata__ is not an object"));
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) throw Error(str_cat(file, ": __metadata__ value \"", k, "\" is not a string"));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string& tensor = name;  // (a structured binding cannot be captured before C++20)
    auto bad = [&](const std::string& why) { return Error(str_cat(file, ": tensor \"", tensor, "\": ", why)); };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    Entry e{0, 0, name, at::kFloat, {}};
    bool known = false;
    for (const auto& [dname, t] : dtypes())
      if (info["dtype"] == dname) e.type = t, known = true;
    if (!known) throw bad(str_cat("unsupported dtype ", info["dtype"].dump()));
    try {
      e.shape = info["shape"].get<std::vector<int64_t>>();
      const auto offsets = info["data_offsets"].get<std::vector<uint64_t>>();
      if (offsets.size() != 2) throw bad("data_offsets needs two numbers");
      e.begin = offsets[0], e.end = offsets[1];
    } catch (const nlohmann::json::exception&) {
      throw bad("shape or data_offsets is not a list of non-negative integers");
    }
    uint64_t count = 1;
    for (const int64_t d : e.shape) {
      if (d < 0) throw bad("negative dimension");
      if (d > 0 && count > (uint64_t(1) << 62) / static_cast<uint64_t>(d)) throw bad("too many elements");
      count *= static_cast<uint64_t>(d);
    }
    if (e.begin > e.end || e.end > data_size) throw bad(str_cat("bytes [", e.begin, ", ", e.end, ") lie outside the ", data_size, " data bytes"));
    // count x element size could wrap (a shape of [2^62] of F64 "needed" 0 bytes and was read anyway).
    const uint64_t element = c10::elementSize(e.type);
    if (count > std::numeric_limits<uint64_t>::max() / element) throw bad("its shape and dtype need more than 2^64 bytes");
    const uint64_t need = count * element;
    if (e.end - e.begin != need) throw bad(str_cat("holds ", e.end - e.begin, " bytes, but its shape and dtype need ", need));
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      throw Error(str_cat(file, ": tensors \"", entries[i - 1].name, "\" and \"", entries[i].name, "\" overlap"));
  for (const Entry& e : entries) {
    // Zero-copy: the tensor points into the mapping, which lives as long as any tensor does.
    void* ptr = const_cast<char*>(bytes) + data_start + e.begin;
    out.tensors.emplace_back(e.name, at::from_blob(ptr, e.shape, [map](void*) {}, at::TensorOptions().dtype(e.type)));
  }
  return out;
}

}  // namespace mmcl::io

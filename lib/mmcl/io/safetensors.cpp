#include "mmcl/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"

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
  std::string text = header.dump();
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

Safetensors load_safetensors(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(str_cat(file, ": cannot open"));
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t length = 0;
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(&length), 8))
    throw Error(str_cat(file, ": not a safetensors file (shorter than its 8-byte header length)"));
  if (length > kMaxHeader || 8 + length > file_size)
    throw Error(str_cat(file, ": not a safetensors file (header length ", length, " for a file of ", file_size, " bytes)"));
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(file, ": the safetensors header is not JSON (", e.what(), ")"));
  }
  if (!header.is_object()) throw Error(str_cat(file, ": the safetensors header is not a JSON object"));

  const uint64_t data_start = 8 + length, data_size = file_size - data_start;
  Safetensors out;
  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  std::vector<std::pair<Range, at::Tensor>> pending;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw Error(str_cat(file, ": __metadata__ is not an object"));
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) throw Error(str_cat(file, ": __metadata__ value \"", k, "\" is not a string"));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) { return Error(str_cat(file, ": tensor \"", name, "\": ", why)); };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
      throw bad("needs dtype, shape and data_offsets");
    at::ScalarType type = at::kFloat;
    bool known = false;
    for (const auto& [dname, t] : dtypes())
      if (info["dtype"] == dname) type = t, known = true;
    if (!known) throw bad(str_cat("unsupported dtype ", info["dtype"].dump()));
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;
    try {
      shape = info["shape"].get<std::vector<int64_t>>();
      const auto offsets = info["data_offsets"].get<std::vector<uint64_t>>();
      if (offsets.size() != 2) throw bad("data_offsets needs two numbers");
      begin = offsets[0], end = offsets[1];
    } catch (const nlohmann::json::exception&) {
      throw bad("shape or data_offsets is not a list of non-negative integers");
    }
    if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) throw bad("negative dimension");
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
    if (begin > end || end > data_size) throw bad(str_cat("bytes [", begin, ", ", end, ") lie outside the ", data_size, " data bytes"));
    if (end - begin != static_cast<uint64_t>(t.nbytes()))
      throw bad(str_cat("holds ", end - begin, " bytes, but its shape and dtype need ", t.nbytes()));
    ranges.push_back({begin, end, name});
    pending.push_back({ranges.back(), t});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      throw Error(str_cat(file, ": tensors \"", ranges[i - 1].name, "\" and \"", ranges[i].name, "\" overlap"));
  std::sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) { return a.first.begin < b.first.begin; });
  for (auto& [range, t] : pending) {
    in.seekg(static_cast<std::streamoff>(data_start + range.begin));
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(range.end - range.begin)))
      throw Error(str_cat(file, ": cannot read tensor \"", range.name, "\""));
    out.tensors.emplace_back(range.name, std::move(t));
  }
  return out;
}

}  // namespace mmcl::io

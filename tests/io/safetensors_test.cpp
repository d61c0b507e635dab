// safetensors: round trips of every dtype, the byte layout, reading the open_clip fixtures, and
// refusing damaged files with a clear message.
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "mmcl/core/error.h"
#include "mmcl/io/safetensors.h"
#include "util.h"

using namespace mmcl::test;
using mmcl::io::load_safetensors;
using mmcl::io::save_safetensors;

namespace {

// Writes a file from a header (as given) and data bytes.
void write_raw(const fs::path& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
}

}  // namespace

CATCH_TEST_CASE("safetensors round trip: every dtype, shapes, metadata, order", "[io]") {
  TempDir dir;
  const auto path = dir / "t.safetensors";
  mmcl::io::NamedTensors in = {
      {"f32", at::randn({3, 4})},
      {"f64", at::randn({2}, at::kDouble)},
      {"f16", at::randn({5}).to(at::kHalf)},
      {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
      {"i64", at::arange(6, at::kLong).view({2, 3})},
      {"i32", at::arange(3, at::kInt)},
      {"i16", at::arange(3, at::kShort)},
      {"i8", at::arange(-2, 2, at::kChar)},
      {"u8", at::arange(4, at::kByte)},
      {"bool", at::tensor({1, 0, 1}).to(at::kBool)},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::empty({0, 3})},
      {"strided", at::randn({4, 3}).t()},  // not contiguous: written in logical order
  };
  save_safetensors(path, in, {{"format", "pt"}, {"note", "x"}});
  fuzz_seed("safetensors_fuzz", "every_dtype", read_text(path));
  const auto out = load_safetensors(path);
  CATCH_CHECK(out.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "x"}});
  CATCH_REQUIRE(out.tensors.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CATCH_CAPTURE(in[i].first);
    CATCH_CHECK(out.tensors[i].first == in[i].first);  // file order is the order given
    CATCH_CHECK(out.tensors[i].second.scalar_type() == in[i].second.scalar_type());
    CATCH_CHECK(out.tensors[i].second.sizes() == in[i].second.sizes());
    CATCH_CHECK(at::equal(out.tensors[i].second, in[i].second));
  }
  for (const auto& entry : fs::directory_iterator(dir.path())) CATCH_CHECK(entry.path() == path);  // no temp file left

  // The layout: header length, JSON, 8-byte aligned data in order.
  const std::string bytes = read_text(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CATCH_CHECK(n % 8 == 0);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  CATCH_CHECK(header["f32"]["dtype"] == "F32");
  CATCH_CHECK(header["f32"]["shape"] == nlohmann::json({3, 4}));
  CATCH_CHECK(header["f32"]["data_offsets"] == nlohmann::json({0, 48}));
  CATCH_CHECK(header["f64"]["data_offsets"] == nlohmann::json({48, 64}));
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  CATCH_CHECK(first == in[0].second[0][0].item<float>());

  CATCH_CHECK_THROWS_WITH(save_safetensors(dir / "d.safetensors", {{"a", at::ones(1)}, {"a", at::ones(1)}}),
                          (dir / "d.safetensors").string() + ": tensor \"a\" given twice");
  CATCH_CHECK_THROWS_WITH(save_safetensors(dir / "c.safetensors", {{"c", at::ones(1, at::kComplexFloat)}}),
                          "safetensors: unsupported dtype ComplexFloat");
}

CATCH_TEST_CASE("safetensors: damaged files are refused with the file and the problem", "[io]") {
  TempDir dir;
  const auto p = dir / "bad.safetensors";
  const std::string name = p.string();
  auto message = [&] {
    try {
      load_safetensors(p);
    } catch (const mmcl::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'));
  CATCH_CHECK(message() == name + ": tensor \"a\": bytes [0, 8) lie outside the 4 data bytes");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  CATCH_CHECK(message() == name + ": tensor \"a\": holds 8 bytes, but its shape and dtype need 12");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}})",
            std::string(8, '\0'));
  CATCH_CHECK(message() == name + ": tensors \"a\" and \"b\" overlap");
  write_raw(p, R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'));
  CATCH_CHECK(message() == name + ": tensor \"a\": unsupported dtype \"C64\"");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  CATCH_CHECK(message() == name + ": tensor \"a\": negative dimension");
  // 2^62 doubles "needed" 2^65 bytes, which wrapped to 0: the empty range passed and was read from.
  write_raw(p, R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", std::string(8, '\0'));
  CATCH_CHECK(message() == name + ": tensor \"a\": its shape and dtype need more than 2^64 bytes");
  write_raw(p, "{not json", "");
  CATCH_CHECK(message().rfind(name + ": the safetensors header is not JSON", 0) == 0);
  write_text(p, "abc");
  CATCH_CHECK(message() == name + ": not a safetensors file (shorter than its 8-byte header length)");
  write_raw(p, std::string(100, ' '), "");
  {  // a header length past the end of the file
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t huge = 1000;
    f.write(reinterpret_cast<const char*>(&huge), 8);
  }
  CATCH_CHECK(message() == name + ": not a safetensors file (header length 1000 for a file of 108 bytes)");
  fs::remove(p);
  CATCH_CHECK(message() == name + ": cannot open");
}

CATCH_TEST_CASE("safetensors: the open_clip fixtures load with their dtypes and shapes", "[io]") {
  const auto shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared/fixtures not found; reading open_clip's safetensors not checked");
    return;
  }
  const auto file = load_safetensors(shared / "fixtures/openclip_vit_tiny/open_clip_weights.safetensors");
  std::map<std::string, at::Tensor> t(file.tensors.begin(), file.tensors.end());
  CATCH_CHECK(t.at("logit_scale").numel() == 1);
  CATCH_CHECK(t.at("token_embedding.weight").sizes() == at::IntArrayRef({49408, 64}));
  CATCH_CHECK(t.at("visual.conv1.weight").sizes() == at::IntArrayRef({96, 3, 16, 16}));
  CATCH_CHECK(t.at("token_embedding.weight").scalar_type() == at::kFloat);
  // Written back and read again, bit for bit.
  TempDir dir;
  save_safetensors(dir / "copy.safetensors", file.tensors, file.metadata);
  const auto again = load_safetensors(dir / "copy.safetensors");
  CATCH_REQUIRE(again.tensors.size() == file.tensors.size());
  for (size_t i = 0; i < again.tensors.size(); ++i) CATCH_CHECK(at::equal(again.tensors[i].second, file.tensors[i].second));
}

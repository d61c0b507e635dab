#include "mmcl/io/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <algorithm>
#include <mutex>
#include <regex>
#include <vector>

#include <ATen/Context.h>
#include <ATen/ops/from_blob.h>
#include <ATen/core/Generator.h>
#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/core/numbers.h"
#include "mmcl/io/torch_checkpoint.h"

namespace fs = std::filesystem;

namespace mmcl::io {
namespace {

constexpr int64_t kFormat = 1;

at::Generator generator_for(const c10::Device& device) { return at::globalContext().defaultGenerator(device); }

std::vector<c10::Device> rng_devices() {
  std::vector<c10::Device> devices{c10::Device(c10::kCPU)};
  for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
    devices.emplace_back(c10::kCUDA, static_cast<c10::DeviceIndex>(i));
  return devices;
}

std::string rng_key(const c10::Device& d) { return d.is_cpu() ? "rng_cpu" : str_cat("rng_cuda_", int(d.index())); }

fs::path checksum_path(const fs::path& checkpoint) { return checkpoint.string() + ".crc32"; }

std::string hex32(uint32_t v) { return format_line("%08x", v); }

template <class Fn>
auto with_archive(const fs::path& path, bool verify, Fn fn) {
  if (verify) verify_checkpoint(path);
  // LibTorch's reader follows a hostile file's nesting and code: it is checked by ours first.
  check_torch_archive(path);
  try {
    return naming_allocation_failure(path.string(), [&] {
      torch::serialize::InputArchive archive;
      archive.load_from(path.string());
      return fn(archive);
    });
  } catch (const c10::OutOfMemoryError&) {
    throw Error(str_cat(path.string(), ": out of memory while reading it"));
  } catch (const c10::Error& e) {
    throw Error(str_cat("cannot read checkpoint ", path.string(), ": ", e.what_without_backtrace()));
  }
}

std::string read_string(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toStringRef();
}

int64_t read_int(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toInt();
}

CheckpointMeta read_meta(torch::serialize::InputArchive& archive) {
  return {read_string(archive, "config"), read_string(archive, "tokenizer")};
}

}  // namespace

void save_checkpoint(const fs::path& path, const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                     const TrainState& state, const CheckpointMeta& meta) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  root.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    root.write("optimizer", optimizer_archive);
  }
  root.write("format", c10::IValue(kFormat));
  root.write("mmcl_version", c10::IValue(std::string(MMCL_VERSION)));
  root.write("step", c10::IValue(state.step));
  root.write("epoch", c10::IValue(state.epoch));
  if (state.loss_scale > 0) {
    root.write("loss_scale", c10::IValue(state.loss_scale));
    root.write("loss_scale_good_steps", c10::IValue(state.loss_scale_good_steps));
  }
  if (!state.data_positions.empty()) {
    const int64_t rows = static_cast<int64_t>(state.data_positions.size());
    const int64_t cols = static_cast<int64_t>(state.data_positions[0].size());
    std::vector<int64_t> flat;
    for (const std::vector<int64_t>& row : state.data_positions) {
      MMCL_CHECK(static_cast<int64_t>(row.size()) == cols, "data positions: rows of different lengths");
      flat.insert(flat.end(), row.begin(), row.end());
    }
    root.write("data_positions", at::from_blob(flat.data(), {rows, cols}, at::kLong).clone(), /*is_buffer=*/true);
  }
  root.write("config", c10::IValue(meta.config_yaml));
  root.write("tokenizer", c10::IValue(meta.tokenizer));
  for (const c10::Device& d : rng_devices()) {
    at::Generator gen = generator_for(d);
    std::lock_guard<std::mutex> lock(gen.mutex());
    root.write(rng_key(d), gen.get_state(), /*is_buffer=*/true);
  }
  // LibTorch's archive writer throws from its destructor when a write fails (a full disk ended the
  // process with SIGABRT): it writes through a sink that never fails, which remembers the first error.
  const fs::path temp = temp_path_for(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str_cat("cannot write checkpoint ", path.string(), ": ", std::strerror(errno)));
  int write_error = 0;
  uLong crc = crc32_z(0L, Z_NULL, 0);
  const auto sink = [&](const void* data, size_t n) -> size_t {
    const char* p = static_cast<const char*>(data);
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(p), n);
    for (size_t left = n; left > 0 && write_error == 0;) {
      const ssize_t w = ::write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        write_error = w < 0 ? errno : EIO;
        break;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    return n;
  };
  std::string failure;
  try {
    root.save_to(sink);
  } catch (const c10::Error& e) {
    failure = e.what_without_backtrace();
  }
  if (::close(fd) != 0 && write_error == 0) write_error = errno;
  if (write_error != 0 || !failure.empty()) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw Error(str_cat("cannot write checkpoint ", path.string(), ": ",
                        write_error != 0 ? std::strerror(write_error) : failure,
                        "; the previous checkpoint and checkpoints/latest are intact"));
  }
  commit_file(temp, path);
  // The checksum of what was written, beside it: a byte changed later (a bad disk, a partial copy) is
  // found when the checkpoint is loaded.
  write_file_atomic(checksum_path(path), hex32(static_cast<uint32_t>(crc)) + "\n");
}

void verify_checkpoint(const fs::path& path) {
  std::error_code ec;
  const fs::path sidecar = checksum_path(path);
  if (!fs::exists(sidecar, ec)) return;  // written before checksums were kept
  std::string expected = read_file(sidecar);
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == ' ')) expected.pop_back();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(str_cat("cannot read checkpoint ", path.string(), ": ", std::strerror(errno)));
  uLong crc = crc32_z(0L, Z_NULL, 0);
  std::vector<unsigned char> buf(size_t{1} << 20);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) crc = crc32_z(crc, buf.data(), n);
  std::fclose(f);
  const std::string actual = hex32(static_cast<uint32_t>(crc));
  if (actual != expected)
    throw Error(str_cat(path.string(), ": checksum mismatch (crc32 ", actual, ", written as ", expected,
                        "): the file changed after it was written"));
}

CheckpointInfo load_checkpoint(const fs::path& path, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                               bool verify) {
  return with_archive(path, verify, [&](torch::serialize::InputArchive& root) {
    const int64_t format = read_int(root, "format");
    MMCL_CHECK(format == kFormat, path.string(), ": checkpoint format ", format, " is not supported (expected ",
               kFormat, ")");
    torch::serialize::InputArchive model_archive;
    root.read("model", model_archive);
    model.load(model_archive);
    if (optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      root.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
    }
    for (const c10::Device& d : rng_devices()) {
      at::Tensor state;
      if (!root.try_read(rng_key(d), state, /*is_buffer=*/true)) continue;
      at::Generator gen = generator_for(d);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(state);
    }
    CheckpointInfo info;
    info.state.step = read_int(root, "step");
    info.state.epoch = read_int(root, "epoch");
    c10::IValue scale, good;
    if (root.try_read("loss_scale", scale) && root.try_read("loss_scale_good_steps", good)) {
      info.state.loss_scale = scale.toDouble();
      info.state.loss_scale_good_steps = good.toInt();
    }
    at::Tensor positions;
    if (root.try_read("data_positions", positions, /*is_buffer=*/true)) {
      if (positions.dim() != 2 || positions.scalar_type() != at::kLong)
        throw Error(str_cat(path.string(), ": data_positions is not a 2-d int64 tensor"));
      positions = positions.contiguous();
      for (int64_t r = 0; r < positions.size(0); ++r) {
        const int64_t* row = positions.data_ptr<int64_t>() + r * positions.size(1);
        info.state.data_positions.emplace_back(row, row + positions.size(1));
      }
    }
    info.meta = read_meta(root);
    return info;
  });
}

CheckpointMeta checkpoint_meta(const fs::path& path) {
  return with_archive(path, /*verify=*/true, [](torch::serialize::InputArchive& root) { return read_meta(root); });
}

fs::path CheckpointDir::path_for(int64_t step) const { return dir_ / str_cat("step_", step, ".pt"); }

std::vector<fs::path> CheckpointDir::all() const {
  static const std::regex pattern(R"(step_(\d+)\.pt)");
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::smatch m;
    const std::string name = it->path().filename().string();
    if (!std::regex_match(name, m, pattern)) continue;
    if (const auto step = parse_non_negative(m[1].str())) found.emplace_back(*step, it->path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::optional<fs::path> CheckpointDir::latest_good() const {
  std::vector<fs::path> candidates;
  std::error_code ec;
  if (fs::exists(dir_ / "latest", ec)) {
    try {
      if (auto named = latest()) candidates.push_back(*named);
    } catch (const Error& e) {
      spdlog::warn("{}", e.what());
    }
  }
  for (auto& p : all())
    if (std::find(candidates.begin(), candidates.end(), p) == candidates.end()) candidates.push_back(std::move(p));
  for (const fs::path& p : candidates) {
    try {
      verify_checkpoint(p);
      return p;
    } catch (const Error& e) {
      spdlog::warn("{}; trying the checkpoint before it", e.what());
    }
  }
  return std::nullopt;
}

std::optional<fs::path> CheckpointDir::latest() const {
  const fs::path pointer = dir_ / "latest";
  std::error_code ec;
  if (!fs::exists(pointer, ec)) return std::nullopt;
  std::string name = read_file(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  const fs::path file = dir_ / name;
  MMCL_CHECK(fs::exists(file, ec), pointer.string(), " names ", name, ", which does not exist");
  return file;
}

fs::path CheckpointDir::save(const torch::nn::Module& model, const torch::optim::Optimizer* optimizer,
                             const TrainState& state, const CheckpointMeta& meta, int64_t keep) const {
  const fs::path file = path_for(state.step);
  save_checkpoint(file, model, optimizer, state, meta);
  write_file_atomic(dir_ / "latest", file.filename().string() + "\n");

  // Keep the newest `keep` step checkpoints (and their checksums).
  const std::vector<fs::path> found = all();
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 1)); i < found.size(); ++i) {
    std::error_code ec;
    fs::remove(found[i], ec);
    fs::remove(checksum_path(found[i]), ec);
  }
  return file;
}

std::string resolve_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  const fs::path folder = fs::is_directory(fs::path(path) / "checkpoints", ec) ? fs::path(path) / "checkpoints" : fs::path(path);
  const auto latest = CheckpointDir(folder).latest();
  MMCL_CHECK(latest, path, ": no checkpoint in this folder (no checkpoints/latest)");
  return latest->string();
}

}  // namespace mmcl::io

// torch.save checkpoints: the strict unpickler on hand-made pickles (what it accepts, what it refuses),
// and the open_clip fixture read from both of its files with numeric parity.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <fstream>

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/module.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/io/checkpoint.h"
#include "mmcl/io/pickle_scan.h"
#include "mmcl/io/torch_checkpoint.h"
#include "mmcl/models/clip.h"
#include "mmcl/models/pretrained.h"
#include "fixtures.h"

using namespace mmcl::test;
using mmcl::io::unpickle_state_dict;

namespace {

std::string text(const std::string& s) {  // BINUNICODE
  const uint32_t n = static_cast<uint32_t>(s.size());
  std::string out = "X";
  out.append(reinterpret_cast<const char*>(&n), 4);
  return out + s;
}
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string int1(int v) { return std::string("K") + static_cast<char>(v); }

// {name: tensor} with the tensor rebuilt from storage "0" (FloatStorage of `numel`) at `offset`,
// `size` and `stride` (two dimensions each), as torch.save writes it.
std::string state_dict_pickle(const std::string& name, int numel, int offset, std::array<int, 2> size,
                              std::array<int, 2> stride, const std::string& callable = "_rebuild_tensor_v2") {
  std::string p = "\x80\x02";
  p += global("collections", "OrderedDict") + ")R";  // OrderedDict()
  p += text(name);
  p += global("torch._utils", callable);
  p += "((" + text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu") + int1(numel) + "tQ";
  p += int1(offset) + int1(size[0]) + int1(size[1]) + "\x86" + int1(stride[0]) + int1(stride[1]) + "\x86";
  p += "\x89" + global("collections", "OrderedDict") + ")R";  // requires_grad, backward_hooks
  p += "tR";                                                 // the args tuple, REDUCE
  p += "s.";                                                 // SETITEM, STOP
  return p;
}

std::string floats(int n) {
  std::string out(static_cast<size_t>(n) * 4, '\0');
  for (int i = 0; i < n; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(&out[static_cast<size_t>(i) * 4], &v, 4);
  }
  return out;
}

std::string error_of(const std::string& pickle, int storage_floats) {
  try {
    unpickle_state_dict(pickle, [&](const std::string&, uint64_t) { return floats(storage_floats); }, "t.pt");
  } catch (const mmcl::Error& e) {
    return e.what();
  }
  return "no error";
}

std::string error_of_scan(const std::string& pickle) {
  try {
    mmcl::io::scan_pickle(pickle, "t.pkl");
  } catch (const mmcl::Error& e) {
    return e.what();
  }
  return "no error";
}

// A zip archive of PyTorch's format holding `records` (name, bytes, compressed).
void write_archive(const fs::path& file, const std::vector<std::tuple<std::string, std::string, bool>>& records) {
  caffe2::serialize::PyTorchStreamWriter writer(file.string());
  for (const auto& [name, bytes, compress] : records) writer.writeRecord(name, bytes.data(), bytes.size(), compress);
  writer.writeEndOfFile();
}

std::string error_of_load(const std::function<void()>& load) {
  try {
    load();
  } catch (const mmcl::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

CATCH_TEST_CASE("the unpickler rebuilds a state dict: storages, offsets, strides", "[io]") {
  const auto t = unpickle_state_dict(state_dict_pickle("w", 6, 1, {2, 2}, {1, 2}), [](const std::string& key, uint64_t bytes) {
    CATCH_CHECK(key == "0");
    CATCH_CHECK(bytes == 24);
    return floats(6);
  }, "t.pt");
  CATCH_REQUIRE(t.size() == 1);
  CATCH_CHECK(t[0].first == "w");
  // Elements 1 + i + 2j of 0..5: [[1, 3], [2, 4]].
  CATCH_CHECK(at::equal(t[0].second, at::tensor({1.0f, 3.0f, 2.0f, 4.0f}).view({2, 2})));
  fuzz_seed("pickle_fuzz", "state_dict", state_dict_pickle("w", 6, 1, {2, 2}, {1, 2}));

  // Refused: reaching past the storage, a short storage, code, unknown opcodes, broken pickles.
  CATCH_CHECK(error_of(state_dict_pickle("w", 4, 1, {2, 2}, {2, 1}), 4).find("a tensor reaches element 4 of a storage of 4") !=
              std::string::npos);
  CATCH_CHECK(error_of(state_dict_pickle("w", 6, 0, {2, 2}, {2, 1}), 3).find("storage data/0 holds 12 bytes, but 6 elements") !=
              std::string::npos);
  CATCH_CHECK(error_of(state_dict_pickle("w", 6, 0, {2, 2}, {2, 1}, "_rebuild_qtensor"), 6)
                  .find("refusing to load \"torch._utils._rebuild_qtensor\"") != std::string::npos);
  const std::string os_system = "\x80\x02" + global("os", "system") + "(" + text("ls") + "tR.";
  CATCH_CHECK(error_of(os_system, 0) == "t.pt: data.pkl byte 2: refusing to load \"os.system\": a state dict holds only "
                                         "tensors, numbers, strings and containers");
  CATCH_CHECK(error_of("\x80\x02(i", 0).find("unsupported pickle opcode 0x69") != std::string::npos);  // INST
  const std::string good = state_dict_pickle("w", 6, 0, {2, 2}, {2, 1});
  CATCH_CHECK(error_of(good.substr(0, good.size() - 5), 6).find("the pickle ends early") != std::string::npos);
  CATCH_CHECK(error_of("\x80\x02h\x07.", 0).find("memo entry 7 was never stored") != std::string::npos);
  CATCH_CHECK(error_of("\x80\x02K\x01K\x02.", 0).find("malformed stack") != std::string::npos);
  CATCH_CHECK(error_of("\x80\x02K\x01.", 0) == "t.pt: holds an int, not a state dict");
}

CATCH_TEST_CASE("hostile pickles: deep nesting, a MARK popped through, a flood of values are refused", "[io]") {
  // 200,000 nested tuples once crashed the process when the parsed tree was destroyed (one recursion per
  // level); lists and dicts nest as deep.
  const std::string tuples = "\x80\x02)" + std::string(200000, '\x85') + ".";
  CATCH_CHECK(error_of(tuples, 0).find("containers nest deeper than 256 levels") != std::string::npos);
  std::string lists = "\x80\x02";
  for (int i = 0; i < 300; ++i) lists += "]";
  for (int i = 0; i < 299; ++i) lists += "a";
  CATCH_CHECK(error_of(lists + ".", 0).find("containers nest deeper than 256 levels") != std::string::npos);
  std::string dicts = "\x80\x02}";
  for (int i = 0; i < 299; ++i) dicts += int1(1) + "}";
  dicts += std::string(299, 's');  // each SETITEM puts the dict above into the one below
  CATCH_CHECK(error_of(dicts + ".", 0).find("containers nest deeper than 256 levels") != std::string::npos);
  // A list appended to itself through the memo: a cycle nests without end.
  std::string cycle = std::string("\x80\x02]q") + '\0';  // a list, memo 0
  for (int i = 0; i < 300; ++i) cycle += std::string("h") + '\0' + "a";  // BINGET 0, APPEND
  CATCH_CHECK(error_of(cycle + ".", 0).find("containers nest deeper than 256 levels") != std::string::npos);
  fuzz_seed("pickle_fuzz", "lists", lists + ".");
  fuzz_seed("pickle_fuzz", "cycle", cycle + ".");
  // TUPLE2 reaching below the MARK: refused (it read the stack under the mark).
  CATCH_CHECK(error_of("\x80\x02K\x01(K\x02\x86t.", 0).find("stack underflow") != std::string::npos);
  // Two million values in a list: refused once past the cap, not built.
  std::string flood = "\x80\x02](";
  flood.reserve(6'000'000);
  for (int i = 0; i < 2'000'000; ++i) flood += "K\x01";
  CATCH_CHECK(error_of(flood + "e.", 0).find("more than 1048576 values") != std::string::npos);
}

CATCH_TEST_CASE("training checkpoints: weights under state_dict, DDP's module. prefix dropped", "[io]") {
  // {"epoch": 3, "state_dict": {"module.w": tensor}}
  std::string inner = state_dict_pickle("module.w", 4, 0, {2, 2}, {2, 1});
  inner = inner.substr(2, inner.size() - 3);  // without PROTO and STOP
  const std::string p = "\x80\x02}" + text("epoch") + int1(3) + "s" + text("state_dict") + inner + "s.";
  const auto t = unpickle_state_dict(p, [](const std::string&, uint64_t) { return floats(4); }, "t.pt");
  fuzz_seed("pickle_fuzz", "training_checkpoint", p);
  CATCH_REQUIRE(t.size() == 1);
  CATCH_CHECK(t[0].first == "w");
}

CATCH_TEST_CASE("open_clip's fixture: the .pt and the .safetensors give the same tensors and open_clip's outputs", "[io][models]") {
  const auto shared = shared_dir();
  if (shared.empty()) {
    CATCH_WARN("SKIPPED: ../shared/fixtures not found; pretrained weight parity not checked");
    return;
  }
  const auto dir = shared / "fixtures" / "openclip_vit_tiny";
  const auto from_pt = mmcl::io::load_weights(dir / "open_clip_weights.pt");
  const auto from_st = mmcl::io::load_weights(dir / "open_clip_weights.safetensors");
  CATCH_REQUIRE(from_pt.size() == from_st.size());
  std::map<std::string, at::Tensor> st(from_st.begin(), from_st.end());
  for (const auto& [name, t] : from_pt) {
    CATCH_CAPTURE(name);
    CATCH_REQUIRE(st.count(name) == 1);
    CATCH_CHECK(at::equal(t, st.at(name)));
  }

  // The model comes from open_clip's own JSON config, used as a preset.
  mmcl::test::TempDir tmp;
  write_text(tmp / "run.yaml", "model:\n  preset: " + (dir / "model_config.json").string() + "\n");
  const mmcl::config::RunConfig c = mmcl::config::load_config((tmp / "run.yaml").string(), {});
  CATCH_CHECK(c.model.embed_dim == 64);
  CATCH_CHECK(c.model.vision.width == 96);
  CATCH_CHECK(c.model.vision.head_width == 32);
  CATCH_CHECK(c.model.text.heads == 2);

  for (const auto* weights : {&from_pt, &from_st}) {
    mmcl::models::ClipImpl model(c.model);
    const auto report = mmcl::models::load_weights_into(model, *weights, "fixture");
    CATCH_CHECK(report.loaded == static_cast<int64_t>(weights->size()));
    CATCH_CHECK(report.unused.empty());
    check_open_clip_outputs(model, dir);
  }

  // A tensor of the wrong shape is named with both shapes; a missing one is named.
  mmcl::io::NamedTensors wrong = from_st;
  for (auto& [name, t] : wrong)
    if (name == "text_projection") t = at::zeros({64, 32});
  mmcl::models::ClipImpl model(c.model);
  CATCH_CHECK_THROWS_WITH(mmcl::models::load_weights_into(model, wrong, "w.safetensors"),
                          "w.safetensors: tensor \"text_projection\" has shape [64, 32], the model's is [64, 64]");
  const std::string missing = from_st.back().first;
  CATCH_CHECK_THROWS_WITH(mmcl::models::load_weights_into(model, mmcl::io::NamedTensors(from_st.begin(), from_st.end() - 1), "w"),
                          Catch::Matchers::Contains("w: no tensor \"" + missing + "\", which the model needs"));
}

CATCH_TEST_CASE("open_clip JSON configs: ResNet towers read, unsupported architectures refused with the line", "[config]") {
  TempDir tmp;  // preset paths are relative to the working directory: given whole here
  // open_clip's RN50.json: layers as a list (the ResNet tower), patch_size null.
  write_text(tmp / "rn50.json", "{\n  \"embed_dim\": 1024,\n  \"vision_cfg\": {\n    \"layers\": [3, 4, 6, 3],\n    \"width\": 64,\n"
                                "    \"patch_size\": null\n  }\n}\n");
  write_text(tmp / "a.yaml", "model: {preset: " + (tmp / "rn50.json").string() + "}\n");
  const auto rn = mmcl::config::load_config((tmp / "a.yaml").string(), {});
  CATCH_CHECK(rn.model.vision.tower == mmcl::VisionTower::resnet);
  CATCH_CHECK(rn.model.vision.resnet_layers == std::array<int64_t, 4>{3, 4, 6, 3});
  CATCH_CHECK(rn.model.vision.width == 64);
  CATCH_CHECK(rn.model.embed_dim == 1024);
  write_text(tmp / "rn3.json", "{\n  \"embed_dim\": 1024,\n  \"vision_cfg\": {\n    \"layers\": [3, 4, 6],\n    \"width\": 64\n  }\n}\n");
  write_text(tmp / "a3.yaml", "model: {preset: " + (tmp / "rn3.json").string() + "}\n");
  CATCH_CHECK_THROWS_WITH(mmcl::config::load_config((tmp / "a3.yaml").string(), {}),
                          (tmp / "rn3.json").string() +
                              ":4: vision_cfg.layers: a list of layers is a ResNet tower of four stages: expected four numbers");
  write_text(tmp / "hf.json", "{\"embed_dim\": 512, \"text_cfg\": {\"hf_model_name\": \"roberta-base\"}}\n");
  write_text(tmp / "b.yaml", "model: {preset: " + (tmp / "hf.json").string() + "}\n");
  CATCH_CHECK_THROWS_WITH(mmcl::config::load_config((tmp / "b.yaml").string(), {}),
                          (tmp / "hf.json").string() + ":1: text_cfg.hf_model_name: not supported by mmcl's CLIP");
  // open_clip's defaults fill what the file leaves out; inert training switches are accepted.
  write_text(tmp / "b32.json", "{\"embed_dim\": 512, \"quick_gelu\": true, \"vision_cfg\": {\"image_size\": 224, "
                               "\"layers\": 12, \"width\": 768, \"patch_size\": 32, \"patch_dropout\": 0.5}}\n");
  write_text(tmp / "c.yaml", "model: {preset: " + (tmp / "b32.json").string() + "}\n");
  const auto c = mmcl::config::load_config((tmp / "c.yaml").string(), {});
  CATCH_CHECK(c.model.quick_gelu);
  CATCH_CHECK(c.model.vision.patch_size == 32);
  CATCH_CHECK(c.model.vision.head_width == 64);
  CATCH_CHECK(c.model.text.width == 512);
  CATCH_CHECK(c.model.text.layers == 12);
}

CATCH_TEST_CASE("pickle scan: nesting is measured on the finished graph, through the memo and later filling", "[io]") {
  // A list is stored in the memo and nested in a tuple while empty; fetched again, it is then filled
  // with 300 nested lists: the tuple is 301 deep although it was 1 deep when it was made.
  std::string late = std::string("\x80\x02]q") + '\0' + "\x85";  // [] (memo 0), (list,)
  late += std::string("h") + '\0';                                  // the list again
  for (int i = 0; i < 300; ++i) late += "]";
  for (int i = 0; i < 300; ++i) late += "a";  // each appended into the one below; the last into the memo's list
  late += "0.";                               // drop it: the tuple is the result
  CATCH_CHECK(error_of_scan(late).find("containers nest deeper than 256 levels") != std::string::npos);
  // A deep nest made and dropped (POP) is still freed by a recursion as deep: refused too.
  const std::string dropped = "\x80\x02)" + std::string(300, '\x85') + "0N.";
  CATCH_CHECK(error_of_scan(dropped).find("containers nest deeper than 256 levels") != std::string::npos);
  // 256 levels pass, 257 do not.
  CATCH_CHECK(error_of_scan("\x80\x02)" + std::string(255, '\x85') + ".") == "no error");
  CATCH_CHECK(error_of_scan("\x80\x02)" + std::string(256, '\x85') + ".") ==
              "t.pkl byte 258: containers nest deeper than 256 levels");
  // Arguments past the end, a length of 2^64 - 1, text opcodes, items put into a number.
  CATCH_CHECK(error_of_scan(std::string("\x80\x02X\xff\xff\xff\x7f") + "ab.").find("the pickle ends early") != std::string::npos);
  CATCH_CHECK(error_of_scan(std::string("\x80\x02\x8d") + std::string(8, '\xff') + ".").find("the pickle ends early") !=
              std::string::npos);
  CATCH_CHECK(error_of_scan("\x80\x02I1\n.").find("unsupported pickle opcode 0x49") != std::string::npos);
  CATCH_CHECK(error_of_scan("\x80\x02K\x01K\x02" "a.").find("items put into a value that holds none") != std::string::npos);
  CATCH_CHECK(error_of_scan("\x80\x02(K\x01.").find("malformed stack") != std::string::npos);
}

CATCH_TEST_CASE("hostile archives: checked before LibTorch's reader, records against their promised sizes", "[io]") {
  TempDir dir;
  // An mmcl checkpoint is read by LibTorch: a data.pkl of 200,000 nested tuples crashed it (exit 139).
  // Now our check refuses it first, naming the file and record; as does code that defines a function
  // (LibTorch compiles the archive's code and runs a __setstate__) or nests brackets without bound.
  torch::nn::Linear model(2, 2);
  mmcl::io::CheckpointMeta meta{"run: {}\n", ""};
  mmcl::io::save_checkpoint(dir / "good.pt", *model, nullptr, {}, meta);
  CATCH_CHECK_NOTHROW(mmcl::io::check_torch_archive(dir / "good.pt"));
  const std::string deep = "\x80\x02)" + std::string(200000, '\x85') + ".";
  write_archive(dir / "deep.pt", {{"data.pkl", deep, false}, {"code/__torch__.py", "class Module(Module):\n  step : int\n", false}});
  const std::string deep_error = error_of_load([&] { mmcl::io::checkpoint_meta(dir / "deep.pt"); });
  CATCH_CHECK(deep_error.find((dir / "deep.pt").string() + ": data.pkl byte") == 0);
  CATCH_CHECK(deep_error.find("containers nest deeper than 256 levels") != std::string::npos);
  write_archive(dir / "code.pt", {{"data.pkl", "\x80\x02N.", false},
                                  {"code/__torch__.py", "class Module(Module):\n  def __setstate__(self, s):\n    pass\n", false}});
  CATCH_CHECK(error_of_load([&] { mmcl::io::checkpoint_meta(dir / "code.pt"); }) ==
              (dir / "code.pt").string() + ": code/__torch__.py line 2: defines a function; a checkpoint's code holds "
                                           "class attributes only, and code is not run");
  write_archive(dir / "brackets.pt", {{"data.pkl", "\x80\x02N.", false},
                                      {"code/__torch__.py", "x : " + std::string(10000, '[') + "\n", false}});
  CATCH_CHECK(error_of_load([&] { mmcl::io::checkpoint_meta(dir / "brackets.pt"); }).find("brackets nest deeper than 32") !=
              std::string::npos);

  // A state dict whose storage record holds more than its tensors were promised is refused before it
  // is read (a 14.7 MB file once loaded a 400 MB storage), and a compressed record inflating past
  // 64 MiB is refused from the header.
  const std::string pickle = state_dict_pickle("w", 6, 0, {2, 2}, {2, 1});
  write_archive(dir / "big.pt", {{"data.pkl", pickle, false}, {"data/0", std::string(1000, '\0'), false}});
  CATCH_CHECK(error_of_load([&] { mmcl::io::load_weights(dir / "big.pt"); }) ==
              (dir / "big.pt").string() + ": storage data/0 holds 1000 bytes, but its tensors were promised 24");
  write_archive(dir / "bomb.pt", {{"data.pkl", pickle, false}, {"data/0", std::string(size_t{65} << 20, '\0'), true}});
  CATCH_CHECK(fs::file_size(dir / "bomb.pt") < (size_t{1} << 20));
  CATCH_CHECK(error_of_load([&] { mmcl::io::load_weights(dir / "bomb.pt"); }).find("record data/0 declares 68157440 bytes, "
                                                                                   "more than the file holds") != std::string::npos);
  write_archive(dir / "ok.pt", {{"data.pkl", pickle, false}, {"data/0", floats(6), false}});
  CATCH_CHECK(mmcl::io::load_weights(dir / "ok.pt").size() == 1);

  // A truncated archive is called that, not an old format; an old-format pickle is named as one.
  const std::string whole = read_text(dir / "ok.pt");
  write_text(dir / "cut.pt", whole.substr(0, whole.size() / 2));
  CATCH_CHECK(error_of_load([&] { mmcl::io::load_weights(dir / "cut.pt"); }).find("cut.pt: a damaged or truncated zip archive (") !=
              std::string::npos);
  CATCH_CHECK(error_of_load([&] { mmcl::io::checkpoint_meta(dir / "cut.pt"); }).find("a damaged or truncated zip archive") !=
              std::string::npos);
  write_text(dir / "old.pt", "\x80\x02\x8a\x0a" + std::string(100, 'x'));
  CATCH_CHECK(error_of_load([&] { mmcl::io::load_torch_checkpoint(dir / "old.pt"); }).find("an old-format PyTorch checkpoint") !=
              std::string::npos);
}

CATCH_TEST_CASE("weights too large for this machine's memory: an error naming the file, not std::bad_alloc", "[io]") {
#if defined(__SANITIZE_ADDRESS__)
#define MMCL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MMCL_UNDER_ASAN 1
#endif
#endif
#ifdef MMCL_UNDER_ASAN
  CATCH_WARN("SKIPPED: an address-space limit cannot be set under AddressSanitizer");
  return;
#endif
  TempDir dir;
  // A state dict with one 64 Mi-float storage (256 MiB), read by a child process whose address space
  // may grow by 64 MiB only.
  const int64_t numel = int64_t{1} << 26;
  std::string p = "\x80\x02";
  p += global("collections", "OrderedDict") + ")R" + text("w") + global("torch._utils", "_rebuild_tensor_v2");
  p += "((" + text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu") + "J";
  const uint32_t n32 = static_cast<uint32_t>(numel);
  p.append(reinterpret_cast<const char*>(&n32), 4);
  p += "tQ" + int1(0) + "J" + std::string(reinterpret_cast<const char*>(&n32), 4) + "\x85" + int1(1) + "\x85";
  p += "\x89" + global("collections", "OrderedDict") + ")RtRs.";
  write_archive(dir / "big.pt", {{"data.pkl", p, false}, {"data/0", std::string(static_cast<size_t>(numel) * 4, '\0'), false}});
  const pid_t child = ::fork();
  CATCH_REQUIRE(child >= 0);
  if (child == 0) {
    long pages = 0, resident = 0;
    std::FILE* statm = std::fopen("/proc/self/statm", "r");
    if (!statm || std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) ::_exit(3);
    std::fclose(statm);
    const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{64} << 20);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(3);
    const std::string message = error_of_load([&] { mmcl::io::load_weights(dir / "big.pt"); });
    const bool named = message.rfind((dir / "big.pt").string() + ": ", 0) == 0 && message.find("memory") != std::string::npos;
    std::fprintf(stderr, "%s\n", message.c_str());
    ::_exit(named ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CATCH_CHECK(WIFEXITED(status));
  CATCH_CHECK(WEXITSTATUS(status) == 0);
}

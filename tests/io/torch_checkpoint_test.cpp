// torch.save checkpoints: the strict unpickler on hand-made pickles (what it accepts, what it refuses),
// and the open_clip fixture read from both of its files with numeric parity.
#include <cstring>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
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
    unpickle_state_dict(pickle, [&](const std::string&) { return floats(storage_floats); }, "t.pt");
  } catch (const mmcl::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

CATCH_TEST_CASE("the unpickler rebuilds a state dict: storages, offsets, strides", "[io]") {
  const auto t = unpickle_state_dict(state_dict_pickle("w", 6, 1, {2, 2}, {1, 2}), [](const std::string& key) {
    CATCH_CHECK(key == "0");
    return floats(6);
  }, "t.pt");
  CATCH_REQUIRE(t.size() == 1);
  CATCH_CHECK(t[0].first == "w");
  // Elements 1 + i + 2j of 0..5: [[1, 3], [2, 4]].
  CATCH_CHECK(at::equal(t[0].second, at::tensor({1.0f, 3.0f, 2.0f, 4.0f}).view({2, 2})));

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
  // TUPLE2 reaching below the MARK: refused (it read the stack under the mark).
  CATCH_CHECK(error_of("\x80\x02K\x01(K\x02\x86t.", 0).find("stack underflow") != std::string::npos);
  // Two million values in a list: refused once past the cap, not built.
  std::string flood = "\x80\x02](";
  flood.reserve(6'000'000);
  for (int i = 0; i < 2'000'000; ++i) flood += "K\x01";
  CATCH_CHECK(error_of(flood + "e.", 0).find("values: not a state dict") != std::string::npos);
}

CATCH_TEST_CASE("training checkpoints: weights under state_dict, DDP's module. prefix dropped", "[io]") {
  // {"epoch": 3, "state_dict": {"module.w": tensor}}
  std::string inner = state_dict_pickle("module.w", 4, 0, {2, 2}, {2, 1});
  inner = inner.substr(2, inner.size() - 3);  // without PROTO and STOP
  const std::string p = "\x80\x02}" + text("epoch") + int1(3) + "s" + text("state_dict") + inner + "s.";
  const auto t = unpickle_state_dict(p, [](const std::string&) { return floats(4); }, "t.pt");
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

CATCH_TEST_CASE("open_clip JSON configs: unsupported architectures are refused with the line", "[config]") {
  TempDir tmp;
  write_text(tmp / "rn50.json", "{\n  \"embed_dim\": 1024,\n  \"vision_cfg\": {\n    \"layers\": [3, 4, 6, 3],\n    \"width\": 64\n  }\n}\n");
  write_text(tmp / "a.yaml", "model: {preset: rn50.json}\n");
  CATCH_CHECK_THROWS_WITH(mmcl::config::load_config((tmp / "a.yaml").string(), {}),
                          (tmp / "rn50.json").string() +
                              ":4: vision_cfg.layers: a list of layers is a ResNet tower, which mmcl does not have (ViT only)");
  write_text(tmp / "hf.json", "{\"embed_dim\": 512, \"text_cfg\": {\"hf_model_name\": \"roberta-base\"}}\n");
  write_text(tmp / "b.yaml", "model: {preset: hf.json}\n");
  CATCH_CHECK_THROWS_WITH(mmcl::config::load_config((tmp / "b.yaml").string(), {}),
                          (tmp / "hf.json").string() + ":1: text_cfg.hf_model_name: not supported by mmcl's CLIP");
  // open_clip's defaults fill what the file leaves out; inert training switches are accepted.
  write_text(tmp / "b32.json", "{\"embed_dim\": 512, \"quick_gelu\": true, \"vision_cfg\": {\"image_size\": 224, "
                               "\"layers\": 12, \"width\": 768, \"patch_size\": 32, \"patch_dropout\": 0.5}}\n");
  write_text(tmp / "c.yaml", "model: {preset: b32.json}\n");
  const auto c = mmcl::config::load_config((tmp / "c.yaml").string(), {});
  CATCH_CHECK(c.model.quick_gelu);
  CATCH_CHECK(c.model.vision.patch_size == 32);
  CATCH_CHECK(c.model.vision.head_width == 64);
  CATCH_CHECK(c.model.text.width == 512);
  CATCH_CHECK(c.model.text.layers == 12);
}

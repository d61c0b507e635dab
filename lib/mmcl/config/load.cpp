#include "mmcl/config/load.h"

#include <sstream>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "mmcl/config/presets.h"
#include "mmcl/config/schema.h"
#include "mmcl/core/braces.h"
#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"
#include "mmcl/core/utf8.h"

namespace fs = std::filesystem;

namespace mmcl::config {
namespace {

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(str_cat(source, ":", e.mark.line + 1, ": YAML syntax error: ", printable(e.msg)));
  }
}

YAML::Node parse_yaml_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ConfigError(str_cat(path, ": ", what, " not found"));
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(str_cat(path, ":", e.mark.line + 1, ": YAML syntax error: ", printable(e.msg)));
  } catch (const YAML::BadFile&) {
    throw ConfigError(str_cat(path, ": cannot read the ", what));
  }
}

struct Setting {
  std::string key;
  YAML::Node value;
};

std::vector<Setting> parse_sets(const std::vector<std::string>& sets) {
  std::vector<Setting> out;
  for (const std::string& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(str_cat("--set ", s, ": expected key=value, e.g. --set optim.lr=1e-4"));
    Setting setting{s.substr(0, eq), YAML::Node()};
    const std::string text = s.substr(eq + 1);
    if (!text.empty()) setting.value = parse_yaml(text, "--set " + setting.key);
    out.push_back(std::move(setting));
  }
  return out;
}

// open_clip's model configs (model_configs/*.json) in mmcl's preset layout. Values keep their place in
// the file, so errors point at the JSON line. Architecture options mmcl's CLIP does not have are refused
// unless they hold their "off" value.
YAML::Node translate_open_clip(const YAML::Node& file, const std::string& source) {
  // Hugging Face's open_clip_config.json wraps the model config: {"model_cfg": {...}, "preprocess_cfg": {...}}.
  const YAML::Node json = file.IsMap() && file["model_cfg"] ? YAML::Node(file["model_cfg"]) : file;
  auto fail = [&](const YAML::Node& at, const std::string& key, const std::string& why) -> void {
    throw ConfigError(str_cat(source, ":", at.Mark().line + 1, ": ", key, ": ", why));
  };
  if (!json.IsMap()) throw ConfigError(str_cat(source, ": an open_clip model config is a JSON object"));
  // Options that are harmless at their default ("off") value.
  auto is_off = [](const YAML::Node& v) {
    if (v.IsNull()) return true;
    if (!v.IsScalar()) return false;
    const std::string s = v.Scalar();
    return s == "false" || s == "0" || s == "0.0" || s == "";
  };
  YAML::Node out(YAML::NodeType::Map);
  out["name"] = "clip";
  // open_clip's defaults, for keys its files leave out.
  out["quick_gelu"] = false;
  YAML::Node vision(YAML::NodeType::Map), text(YAML::NodeType::Map);
  vision["image_size"] = 224, vision["patch_size"] = 16, vision["width"] = 768, vision["layers"] = 12;
  vision["head_width"] = 64, vision["mlp_ratio"] = 4.0;
  text["context_length"] = 77, text["vocab_size"] = 49408, text["width"] = 512, text["heads"] = 8;
  text["layers"] = 12, text["mlp_ratio"] = 4.0;
  const std::set<std::string> vision_keys = {"image_size", "patch_size", "width", "layers", "head_width", "mlp_ratio"};
  const std::set<std::string> text_keys = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"};
  // Training-time switches that do not change the weights or the inference.
  const std::set<std::string> inert = {"patch_dropout", "output_tokens", "output_dict", "cast_dtype"};
  for (const auto& kv : json) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& value = kv.second;
    if (key == "embed_dim" || key == "quick_gelu") {
      out[key] = value;
    } else if (key == "vision_cfg" || key == "text_cfg") {
      if (!value.IsMap()) fail(value, key, "expected an object");
      const bool is_vision = key == "vision_cfg";
      YAML::Node& target = is_vision ? vision : text;
      for (const auto& sub : value) {
        const std::string name = sub.first.Scalar();
        const std::string full = key + "." + name;
        if ((is_vision ? vision_keys : text_keys).count(name)) {
          if (name == "image_size" && sub.second.IsSequence()) {  // [h, w]
            if (sub.second.size() != 2 || sub.second[0].Scalar() != sub.second[1].Scalar())
              fail(sub.second, full, "only square images are supported");
            target[name] = sub.second[0];
          } else if (name == "layers" && !sub.second.IsScalar()) {
            // A list of four stages: CLIP's ModifiedResNet (RN50 ...).
            if (!sub.second.IsSequence() || sub.second.size() != 4)
              fail(sub.second, full, "a list of layers is a ResNet tower of four stages: expected four numbers");
            target["tower"] = "resnet";
            target["resnet_layers"] = sub.second;
          } else if (sub.second.IsNull()) {
            // null (RN configs' patch_size): open_clip's default stands.
          } else {
            target[name] = sub.second;
          }
        } else if (!inert.count(name) && !is_off(sub.second)) {
          fail(sub.second, full, "not supported by mmcl's CLIP");
        }
      }
    } else if (!inert.count(key) && !is_off(value)) {
      fail(value, key, "not supported by mmcl's CLIP");
    }
  }
  out["vision"] = vision;
  out["text"] = text;
  return out;
}

struct PresetFile {
  YAML::Node node;
  std::string source;
};

// The preset `name` chosen for `key` (model.preset or model.base): an embedded one, or a YAML or open_clip
// .json file (relative to the working directory, as every path of a config).
PresetFile read_preset(const std::string& key, const std::string& name, const Origin& origin) {
  PresetFile out;
  std::vector<std::string> available;
  for (const EmbeddedPreset& p : embedded_presets()) {
    available.push_back(p.name);
    if (name == p.name) {
      out.source = p.path;
      out.node = parse_yaml(p.yaml, out.source);
    }
  }
  if (out.source.empty()) {
    std::error_code ec;
    if (fs::is_regular_file(name, ec)) {
      out.source = name;
      out.node = parse_yaml_file(out.source, "model preset");
    }
  }
  if (out.source.empty()) {
    std::string list;
    for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
    throw ConfigError(str_cat(origin.str(), ": ", key, ": unknown preset \"", name, "\" (available: ", list,
                              "; or a path to a preset YAML or an open_clip .json)"));
  }
  if (fs::path(out.source).extension() == ".json") out.node = translate_open_clip(out.node, out.source);
  if (out.node.IsMap()) {
    const YAML::Node nested = static_cast<const YAML::Node&>(out.node)["preset"];
    if (nested)
      throw ConfigError(str_cat(out.source, ":", nested.Mark().line + 1, ": model.preset: a preset cannot name another preset"));
  }
  return out;
}

// model.base, then model.preset, each setting model keys; the config file and --set come after. A preset
// may name its base (an FDT preset names the CLIP it is built on); a base must be a CLIP preset and
// names no further preset.
void apply_presets(Schema& schema, std::string preset, const Origin& preset_origin, std::string base, Origin base_origin) {
  std::optional<PresetFile> p;
  if (!preset.empty()) {
    p = read_preset("model.preset", preset, preset_origin);
    const YAML::Node own_base = p->node.IsMap() ? static_cast<const YAML::Node&>(p->node)["base"] : YAML::Node();
    if (base.empty() && own_base && own_base.IsScalar())
      base = own_base.Scalar(), base_origin = Origin{p->source, own_base.Mark().line + 1};
  }
  if (!base.empty()) {
    const PresetFile b = read_preset("model.base", base, base_origin);
    if (b.node.IsMap()) {
      const YAML::Node& m = b.node;
      const YAML::Node name = m["name"];
      // A base gives an FDT model its towers: it must be an open_clip architecture (model table).
      if (name && name.IsScalar() && !model_capabilities(name.Scalar()).open_clip)
        throw ConfigError(str_cat(base_origin.str(), ": model.base: \"", base, "\" is a ", name.Scalar(),
                                  " preset; a base must be a CLIP preset"));
      if (const YAML::Node nested = m["base"])
        throw ConfigError(str_cat(b.source, ":", nested.Mark().line + 1, ": model.base: a base preset cannot name another base"));
    }
    schema.apply(b.node, b.source, "model.");
    schema.set("model.base", YAML::Node(base), base_origin);
  }
  if (p) {
    schema.apply(p->node, p->source, "model.");
    // A preset only sets model keys; the preset's name itself keeps the origin that chose it.
    schema.set("model.preset", YAML::Node(preset), preset_origin);
  }
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// eval.every, eval.during and train.keep_best agree with each other and with the model.
void validate_evaluation_during_training(const RunConfig& c, const Schema& schema) {
  const auto& during = c.eval.during;
  if (c.eval.every > 0 && during.empty())
    schema.fail("eval.every", str_cat("eval.during is empty: name what to evaluate every ", c.eval.every,
                                      " steps (zeroshot, retrieval, val_loss)"));
  if (c.eval.every == 0 && !during.empty())
    schema.fail("eval.every", "eval.during is set: give the steps between evaluations (or leave eval.during empty)");
  const Capabilities& model = model_capabilities(c.model.name);
  if (contains(during, "zeroshot") && !model.has(Modality::text))
    schema.fail("eval.during", str_cat("zeroshot needs a model with a text tower; model.name ", c.model.name, " has none"));
  if (contains(during, "retrieval")) {
    const Modality target = c.eval.retrieval == RetrievalTarget::audio ? Modality::audio : Modality::text;
    if (!model.has(target))
      schema.fail("eval.during", str_cat("retrieval against ", name_of(target), " needs a model that reads it; model.name ",
                                         c.model.name, " does not"));
  }
  if (c.train.keep_best.empty()) return;
  if (c.eval.every == 0) schema.fail("train.keep_best", "needs evaluations during training: set eval.every and eval.during");
  const std::vector<std::string> metrics = evaluation_metrics(c);
  if (!contains(metrics, c.train.keep_best))
    schema.fail("train.keep_best", str_cat("\"", c.train.keep_best, "\" is not a metric of eval.during (",
                                           join(during, ", "), "); it produces ", join(metrics, ", ")));
}

void validate(const RunConfig& c, const Schema& schema) {
  const auto& v = c.model.vision;
  if (v.tower == VisionTower::resnet) {
    // The stem halves the width; five halvings of the side (stem stride, pool, three strided stages).
    if (v.image_size % 32 != 0)
      schema.fail("model.vision.image_size", str_cat(v.image_size, " is not a multiple of 32 (the ResNet tower's stride)"));
    if (v.width % 2 != 0) schema.fail("model.vision.width", str_cat(v.width, " is odd (the stem starts at width / 2)"));
    if (v.width * 32 % v.head_width != 0)
      schema.fail("model.vision.head_width", str_cat("the attention pool's width ", v.width * 32, " (32 x model.vision.width) "
                                                     "is not a multiple of ", v.head_width));
  } else if (v.tower == VisionTower::vit) {
    if (v.image_size % v.patch_size != 0)
      schema.fail("model.vision.image_size", str_cat(v.image_size, " is not a multiple of model.vision.patch_size (",
                                                     v.patch_size, ")"));
    if (v.width % v.head_width != 0)
      schema.fail("model.vision.width", str_cat(v.width, " is not a multiple of model.vision.head_width (",
                                                v.head_width, ")"));
  }
  const auto& t = c.model.text;
  if (t.width % t.heads != 0)
    schema.fail("model.text.width", str_cat(t.width, " is not a multiple of model.text.heads (", t.heads, ")"));
  const bool torchvision_resnet = v.tower != VisionTower::vit && v.tower != VisionTower::resnet;
  if (c.model.name == "simclr" && v.tower == VisionTower::resnet)
    schema.fail("model.vision.tower", "simclr's ResNets are torchvision's: resnet18, resnet34, resnet50 or resnet101 "
                                      "(resnet is CLIP's ModifiedResNet), or vit");
  if (c.model.name != "simclr" && torchvision_resnet)
    schema.fail("model.vision.tower", str_cat(v.tower, " is a torchvision ResNet, a simclr backbone; CLIP's ResNet "
                                              "tower is resnet (with model.vision.resnet_layers)"));
  if (c.model.min_logit_scale > c.model.init_logit_scale)
    schema.fail("model.min_logit_scale", str_cat("must not exceed model.init_logit_scale (",
                                                 schema.value_text("model.init_logit_scale"), ")"));
  const auto& im = c.data.image;
  if (im.jitter[3] > 0.5) schema.fail("data.image.jitter", str_cat("the hue shift ", im.jitter[3], " is above 0.5 turns"));
  if (im.blur_sigma[0] <= 0 || im.blur_sigma[0] > im.blur_sigma[1])
    schema.fail("data.image.blur_sigma", "must be [low, high] with 0 < low <= high");
  if (c.data.views != 0 && c.data.views != model_capabilities(c.model.name).views)
    schema.fail("data.views", str_cat("model.name ", c.model.name, " reads ", model_capabilities(c.model.name).views,
                                      " view(s) of a sample, not ", c.data.views));
  if (c.model.init_logit_scale > c.model.max_logit_scale)
    schema.fail("model.init_logit_scale", str_cat("must not exceed model.max_logit_scale (",
                                                  schema.value_text("model.max_logit_scale"), ")"));
  if (c.optim.min_lr > c.optim.lr)
    schema.fail("optim.min_lr", str_cat("must not exceed optim.lr (", schema.value_text("optim.lr"), ")"));
  if (c.runtime.device == DeviceChoice::cpu)
    if (const auto why = precision_unsupported(c.runtime.precision, /*cuda=*/false)) schema.fail("runtime.precision", *why);
  // What the model trains with comes from its entry in the model table.
  const Capabilities& model = model_capabilities(c.model.name);
  if (!model.trains_with_loss(c.loss.name))
    schema.fail("loss.name", str_cat("model.name ", c.model.name, " trains with ", join(model.losses, " or "), ", not \"",
                                     c.loss.name, "\""));
  if (!model.trains_on(c.data.type))
    schema.fail("data.type", str_cat("model.name ", c.model.name, " trains on data.type ", join(model.data, ", "),
                                     ", not \"", c.data.type, "\""));
  if (c.loss.name == "siglip" && !c.model.logit_bias)
    schema.fail("loss.name", "siglip needs the model's logit bias: set model.logit_bias: true (and model.init_logit_scale: "
                             "2.302585, SigLIP's log 10)");
  if (c.model.lock_image && c.model.name != "clip" && c.model.name != "fdt")
    schema.fail("model.lock_image", str_cat("locks a CLIP or FDT image tower; model.name is ", c.model.name));
  if (model.built_from("vatt")) {
    const auto& m = c.model.vatt;
    if (c.model.video.frames % m.video_patch[0] != 0)
      schema.fail("model.vatt.video_patch", str_cat("model.video.frames (", c.model.video.frames,
                                                    ") is not a multiple of its ", m.video_patch[0], " frames"));
    if (c.model.video.size % m.video_patch[1] != 0 || c.model.video.size % m.video_patch[2] != 0)
      schema.fail("model.vatt.video_patch", str_cat("model.video.size (", c.model.video.size, ") is not a multiple of its ",
                                                    m.video_patch[1], " x ", m.video_patch[2], " pixels"));
    if (m.audio_samples % m.audio_patch != 0)
      schema.fail("model.vatt.audio_samples", str_cat(m.audio_samples, " is not a multiple of model.vatt.audio_patch (",
                                                      m.audio_patch, ")"));
    if (m.width % m.heads != 0)
      schema.fail("model.vatt.width", str_cat(m.width, " is not a multiple of model.vatt.heads (", m.heads, ")"));
    const auto& t = m.text;
    if (t.tower == VattTextTower::t5 && m.backbone == VattBackbone::agnostic)
      schema.fail("model.vatt.text.tower", "t5 has its own transformer; backbone agnostic shares one transformer "
                                           "(set model.vatt.text.tower: backbone or auto)");
    if (t.width % t.heads != 0)
      schema.fail("model.vatt.text.width", str_cat(t.width, " is not a multiple of model.vatt.text.heads (", t.heads, ")"));
    if (!t.embeddings.empty() && t.embedding_dim == 0)
      schema.fail("model.vatt.text.embedding_dim", "model.vatt.text.embeddings is set: give the file's vector size "
                                                   "(300 for word2vec)");
    // DropToken keeps at least one token: a fraction of 1 would drop them all.
    if (m.video_droptoken >= 1) schema.fail("model.vatt.video_droptoken", "must be below 1 (1 drops every video token)");
    if (m.audio_droptoken >= 1) schema.fail("model.vatt.audio_droptoken", "must be below 1 (1 drops every audio token)");
  }
  if (c.eval.views[1] != 1 && c.eval.views[1] != 3)
    schema.fail("eval.views", str_cat("crops must be 1 or 3, not ", c.eval.views[1]));
  if (c.eval.multi_label && c.eval.label_separator.size() != 1)
    schema.fail("eval.label_separator", "must be one character");
  for (const std::string& t : c.eval.templates)
    if (t.find("{}") == std::string::npos)
      schema.fail("eval.templates", str_cat("template \"", t, "\" has no {} for the class name"));
  validate_evaluation_during_training(c, schema);
}

// A key naming a file must be set and the file must exist.
void require_file(const Schema& schema, const std::string& key, const std::string& source, const std::string& why) {
  const std::string path = schema.at(key).value().Scalar();
  if (path.empty())
    throw ConfigError(str_cat(source, ": ", key, ": required ", why, "; set it in the config or with --set ", key, "=PATH"));
  std::error_code ec;
  if (!fs::exists(path, ec)) schema.fail(key, str_cat("file not found: \"", path, "\""));
}

// data.train as a shard pattern: it must expand, and every local shard must exist. Shards read
// through a command (pipe:, http(s)://) cannot be counted before reading them: a streamed epoch of
// them needs data.samples_per_epoch.
void require_shards(const Schema& schema, const config::DataConfig& data, const std::string& source) {
  const std::string& pattern = data.train;
  if (pattern.empty())
    throw ConfigError(str_cat(source, ": data.train: required when data.type is webdataset; set it in the config or with "
                              "--set data.train=PATTERN"));
  std::vector<std::string> shards;
  try {
    shards = expand_braces(pattern);
  } catch (const Error& e) {
    schema.fail("data.train", e.what());
  }
  if (shards.empty()) schema.fail("data.train", str_cat("\"", pattern, "\" names no shard"));
  std::error_code ec;
  for (const std::string& shard : shards) {
    if (is_remote_shard(shard)) {
      if (data.samples_per_epoch == 0 && !data.webdataset.index)
        schema.fail("data.samples_per_epoch",
                    str_cat("required for shards read through a command or URL (\"", shard,
                            "\"), which cannot be counted without reading them; set the number of samples an epoch "
                            "has (open_clip's --train-num-samples)"));
      continue;
    }
    if (!fs::is_regular_file(shard, ec))
      schema.fail("data.train", str_cat("shard not found: \"", shard, "\"", shards.size() > 1 ? str_cat(" (one of ", shards.size(), ")") : ""));
  }
}

// What each subcommand needs of its config beyond the schema's rules: the keys that must name existing
// files (eval.checkpoint may be left empty when model.pretrained names weights).
// The files every user config must name correctly: the training data and its tokenizer's vocabulary
// (as the model and dataset tables say they are read), and pretrained weights.
void require_inputs(const RunConfig& config, const Schema& schema, const std::string& source) {
  const Capabilities& data = dataset_capabilities(config.data.type);
  switch (data.source) {
    case DataSource::generated: break;
    case DataSource::manifest:
      require_file(schema, "data.train", source, str_cat("when data.type is ", config.data.type));
      break;
    case DataSource::shards: require_shards(schema, config.data, source); break;
  }
  if (data.tokenizes && model_capabilities(config.model.name).has(Modality::text) &&
      config.tokenizer.name == TokenizerKind::clip_bpe && !config.tokenizer.vocab.empty())
    require_file(schema, "tokenizer.vocab", source, "for tokenizer.name clip_bpe");
  if (!config.model.pretrained.empty()) require_file(schema, "model.pretrained", source, "");
  if (config.eval.every > 0) {
    const auto& during = config.eval.during;
    if (contains(during, "zeroshot") || contains(during, "retrieval"))
      require_file(schema, "eval.data", source, str_cat("for eval.during ", join(during, ", ")));
    if (contains(during, "val_loss") && data.source != DataSource::generated)
      require_file(schema, "data.val", source, "for eval.during val_loss (held-out data in data.train's form)");
  }
  if (!config.model.vatt.text.embeddings.empty() && model_capabilities(config.model.name).built_from("vatt"))
    require_file(schema, "model.vatt.text.embeddings", source, "");
}

RunConfig resolve(const YAML::Node& root, const std::string& source, const std::vector<std::string>& sets, bool user_config, const std::string& subcommand = "") {
  RunConfig config;
  Schema schema(config);
  const std::vector<Setting> settings = parse_sets(sets);

  // The presets are applied first, so find which ones the file or --set chose.
  std::string preset, base;
  Origin preset_origin, base_origin;
  if (root.IsMap()) {
    // Const lookups: a missing key gives an undefined node, which must be tested before use.
    const YAML::Node model = root["model"];
    if (model && model.IsMap()) {
      const YAML::Node p = model["preset"], b = model["base"];
      if (p && p.IsScalar()) preset = p.Scalar(), preset_origin = Origin{source, p.Mark().line + 1};
      if (b && b.IsScalar()) base = b.Scalar(), base_origin = Origin{source, b.Mark().line + 1};
    }
  }
  for (const Setting& s : settings) {
    if (s.key == "model.preset" && s.value.IsScalar()) preset = s.value.Scalar(), preset_origin = Origin{"--set"};
    if (s.key == "model.base" && s.value.IsScalar()) base = s.value.Scalar(), base_origin = Origin{"--set"};
  }
  if (user_config) apply_presets(schema, preset, preset_origin, base, base_origin);

  schema.apply(root, source);
  for (const Setting& s : settings) schema.set(s.key, s.value, Origin{"--set"});
  // A torchvision ResNet's width is 64 unless given (the key's default, 768, is a ViT's).
  const VisionTower tower = config.model.vision.tower;
  if (tower != VisionTower::vit && tower != VisionTower::resnet && schema.at("model.vision.width").origin.source == "default")
    config.model.vision.width = 64;
  validate(config, schema);
  // A resolved config (read back from a checkpoint, user_config false) already holds its preset and is
  // not checked against the file system: its data and weights were where the run was, not necessarily
  // where it is evaluated or exported.
  if (!user_config) return config;
  require_inputs(config, schema, source);
  for (const std::string& key : required_files(subcommand)) {
    // Evaluations take a checkpoint, or the model of this config with pretrained weights.
    if (key == "eval.checkpoint" && !config.model.pretrained.empty()) continue;
    require_file(schema, key, source, key == "eval.checkpoint" ? "by this subcommand (or set model.pretrained)" : "by this subcommand");
  }
  return config;
}

}  // namespace

const std::vector<std::string>& required_files(const std::string& subcommand) {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"pretrain", {}},
      {"bench", {}},
      {"tokenize", {}},
      {"finetune", {"eval.checkpoint", "eval.train", "eval.data"}},
      {"linear-probe", {"eval.checkpoint", "eval.train", "eval.data"}},
      {"zeroshot", {"eval.checkpoint", "eval.data"}},
      {"classify", {"eval.checkpoint"}},
      {"retrieve", {"eval.checkpoint", "eval.data"}},
      {"embed", {"eval.checkpoint", "eval.data"}},
      {"search", {"eval.checkpoint"}},
      {"inspect", {"eval.checkpoint", "eval.data"}},
  };
  static const std::vector<std::string> none;
  const auto it = table.find(subcommand);
  MMCL_CHECK(subcommand.empty() || it != table.end(), "internal: no config requirements for subcommand ", subcommand);
  return it == table.end() ? none : it->second;
}

std::string run_config_description(const EmbeddedPreset& run) {
  // The first sentence of the leading comment (up to 110 characters).
  std::istringstream in(run.yaml);
  std::string text;
  const auto sentence_end = [&text] {  // ". " not after "et al"
    for (size_t at = text.find(". "); at != std::string::npos; at = text.find(". ", at + 1))
      if (at < 2 || text.compare(at - 2, 2, "al") != 0) return at;
    return std::string::npos;
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) != 0 || line.rfind("#  ", 0) == 0) break;  // the comment's end, or a command example
    text += (text.empty() ? "" : " ") + line.substr(2);
    if (sentence_end() != std::string::npos || text.size() > 110) break;
  }
  if (const size_t end = sentence_end(); end != std::string::npos) text = text.substr(0, end + 1);
  if (text.size() > 110) text = text.substr(0, 107) + "...";
  return text;
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& sets, const std::string& subcommand) {
  // A bare name that is no file: a run config built in from configs/runs/ (paths in it are relative to
  // the working directory, as for any config outside a folder).
  std::error_code ec;
  if (path.find('/') == std::string::npos && !fs::exists(path, ec)) {
    const std::string name = fs::path(path).extension() == ".yaml" ? fs::path(path).stem().string() : path;
    for (const EmbeddedPreset& r : embedded_run_configs())
      if (name == r.name) return resolve(parse_yaml(r.yaml, r.path), r.path, sets, true, subcommand);
  }
  const YAML::Node root = parse_yaml_file(path, "config file");
  return resolve(root, path, sets, true, subcommand);
}

RunConfig load_config_text(const std::string& yaml, const std::string& source, const std::vector<std::string>& sets) {
  return resolve(parse_yaml(yaml, source), source, sets, true);
}

RunConfig load_resolved_config(const std::string& yaml, const std::string& source, const std::vector<std::string>& sets) {
  return resolve(parse_yaml(yaml, source), source, sets, false);
}

std::string dump_config(const RunConfig& config) {
  RunConfig copy = config;
  return Schema(copy).dump();
}

std::vector<std::string> evaluation_metrics(const RunConfig& config) {
  std::vector<std::string> out;
  for (const std::string& what : config.eval.during) {
    if (what == "zeroshot") {
      out.insert(out.end(), {"eval/zeroshot/top1", "eval/zeroshot/top5"});
    } else if (what == "retrieval") {
      const std::string query(name_of(model_capabilities(config.model.name).eval_input));
      const std::string target = config.eval.retrieval == RetrievalTarget::audio ? "audio" : "text";
      for (const auto& direction : {query + "_to_" + target, target + "_to_" + query})
        for (const char* m : {"R@1", "R@5", "R@10", "median_rank"}) out.push_back(str_cat("eval/retrieval/", direction, "_", m));
      out.push_back("eval/retrieval/rsum");
    } else if (what == "val_loss") {
      out.push_back("eval/val_loss");
    }
  }
  return out;
}

bool lower_is_better(const std::string& metric) {
  const auto ends_with = [&](const std::string& tail) {
    return metric.size() >= tail.size() && metric.compare(metric.size() - tail.size(), tail.size(), tail) == 0;
  };
  return ends_with("loss") || ends_with("rank");
}

std::string dump_config_for_model(const RunConfig& config) {
  RunConfig copy = config;
  const Capabilities& model = model_capabilities(config.model.name);
  const Capabilities& data = dataset_capabilities(config.data.type);
  // The model.* sections some model of the model table is built from; the data sections of one source or input.
  std::set<std::string> model_sections;
  for (const CatalogEntry& e : model_catalog()) model_sections.insert(e.can.sections.begin(), e.can.sections.end());
  const auto keep = [&](const std::string& key) {
    for (const std::string& section : model_sections)
      if (key.rfind("model." + section + ".", 0) == 0) return model.built_from(section);
    if (key.rfind("data.synthetic.", 0) == 0) return data.source == DataSource::generated;
    if (key.rfind("data.webdataset.", 0) == 0) return data.source == DataSource::shards;
    if (key.rfind("data.image.", 0) == 0) return model.has(Modality::image);
    if (key.rfind("data.video.", 0) == 0) return model.has(Modality::video);
    if (key.rfind("tokenizer.", 0) == 0) return model.has(Modality::text);
    return true;
  };
  return Schema(copy).dump(keep);
}

std::vector<std::string> config_differences(const RunConfig& before, const RunConfig& after) {
  RunConfig a = before, b = after;
  Schema sa(a), sb(b);
  std::vector<std::string> out;
  for (const Field& f : sa.fields()) {
    const std::string x = sa.value_text(f.key), y = sb.value_text(f.key);
    if (x != y) out.push_back(str_cat(f.key, ": ", x, " -> ", y));
  }
  return out;
}

}  // namespace mmcl::config

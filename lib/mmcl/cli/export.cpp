// mmcl export: a checkpoint's model weights as safetensors with open_clip's tensor names, plus the
// model config in open_clip's JSON form, so open_clip (or model.pretrained) can load them.

#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "mmcl/core/json_text.h"
#include "mmcl/cli/run_command.h"
#include "mmcl/config/load.h"
#include "mmcl/core/error.h"
#include "mmcl/core/fs.h"
#include "mmcl/core/log.h"
#include "mmcl/io/safetensors.h"
#include "mmcl/models/pretrained.h"
#include "mmcl/run/run.h"

namespace mmcl::cli {
namespace {

// open_clip's model_configs/*.json for a CLIP of this shape.
nlohmann::ordered_json open_clip_config(const config::ModelConfig& m) {
  nlohmann::ordered_json j;
  j["embed_dim"] = m.embed_dim;
  if (m.quick_gelu) j["quick_gelu"] = true;
  if (m.vision.tower == VisionTower::resnet) {
    // open_clip's RN configs: layers as a list of the four stages, no patch size.
    const auto& l = m.vision.resnet_layers;
    j["vision_cfg"] = {{"image_size", m.vision.image_size},
                       {"layers", {l[0], l[1], l[2], l[3]}},
                       {"width", m.vision.width},
                       {"head_width", m.vision.head_width},
                       {"patch_size", nullptr}};
  } else {
    j["vision_cfg"] = {{"image_size", m.vision.image_size}, {"layers", m.vision.layers},      {"width", m.vision.width},
                       {"head_width", m.vision.head_width}, {"patch_size", m.vision.patch_size}, {"mlp_ratio", m.vision.mlp_ratio}};
  }
  j["text_cfg"] = {{"context_length", m.text.context_length}, {"vocab_size", m.text.vocab_size}, {"width", m.text.width},
                   {"heads", m.text.heads},                   {"layers", m.text.layers},         {"mlp_ratio", m.text.mlp_ratio}};
  return j;
}

// The resolved model section without the keys that name other files or presets.
std::string model_preset_yaml(const config::RunConfig& config) {
  YAML::Node model = YAML::Load(config::dump_config(config))["model"];
  for (const char* key : {"preset", "base", "pretrained"}) model.remove(key);
  YAML::Emitter out;
  out << model;
  return str_cat("# ", config.model.name, " model written by mmcl export\n", out.c_str(), "\n");
}

class Export : public Command {
 public:
  std::string name() const override { return "export"; }
  std::string summary() const override {
    return "Write a checkpoint's weights as safetensors with open_clip names (and its open_clip model config)";
  }
  void add_options(CLI::App& app) override {
    app.add_option("--checkpoint", checkpoint_, "Checkpoint file or run directory (its latest checkpoint)")
        ->required()
        ->type_name("PATH");
    app.add_option("--out", out_, "Output .safetensors file; the open_clip config goes next to it as .json")
        ->required()
        ->type_name("FILE");
  }
  int run() override {
    std::error_code ec;
    if (!std::filesystem::exists(checkpoint_, ec)) throw ConfigError(str_cat("--checkpoint: not found: \"", checkpoint_, "\""));
    if (std::filesystem::path(out_).extension() != ".safetensors")
      throw ConfigError(str_cat("--out: expected a .safetensors file name, got \"", out_, "\""));
    log::init_console();
    const run::Run run = run::resolve_checkpoint_model(checkpoint_);
    config::RunConfig config;
    config.model = run.model_config;
    const std::string& file = run.checkpoint;
    auto& model = run.model;
    if (!run.can->open_clip) {
      // Not an open_clip architecture: the model section of the config, as an mmcl preset YAML that
      // model.preset reads (with model.pretrained naming the weights).
      const std::string preset = model_preset_yaml(config);
      io::save_safetensors(out_, models::named_weights(*model), {{"format", "pt"}, {"mmcl_model", preset}, {"source", file}});
      const std::string yaml_path = std::filesystem::path(out_).replace_extension(".yaml").string();
      write_file_atomic(yaml_path, preset);
      std::cout << "wrote " << out_ << " and " << yaml_path << " (an mmcl model preset: " << config.model.name
                << " is not an open_clip model)\n";
      return 0;
    }
    const nlohmann::ordered_json oc = open_clip_config(config.model);
    io::save_safetensors(out_, models::named_weights(*model),
                         {{"format", "pt"}, {"open_clip_config", json_text(oc)}, {"source", file}});
    const std::string json_path = std::filesystem::path(out_).replace_extension(".json").string();
    write_file_atomic(json_path, json_text(oc, 2) + "\n");
    std::cout << "wrote " << out_ << " and " << json_path << "\n";
    return 0;
  }

 private:
  std::string checkpoint_, out_;
};

}  // namespace

std::unique_ptr<Command> make_export() { return std::make_unique<Export>(); }

}  // namespace mmcl::cli

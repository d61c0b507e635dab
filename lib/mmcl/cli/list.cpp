// mmcl list: what this build offers (models, losses, datasets, presets), and --keys: every config key.

#include <iostream>

#include <yaml-cpp/yaml.h>

#include "mmcl/cli/run_command.h"
#include "mmcl/config/presets.h"
#include "mmcl/config/schema.h"
#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"
#include "mmcl/core/format.h"

namespace mmcl::cli {
namespace {

// What a model's table entry says it reads and works with, as one line.
std::string capabilities_line(const Capabilities& c) {
  std::vector<std::string> reads;
  for (const Modality m : c.reads) reads.push_back(name_of(m));
  return str_cat("reads ", join(reads, ", "), c.views > 1 ? str_cat(" (", c.views, " views)") : "", "; loss ",
                 join(c.losses, ", "), "; data ", join(c.data, ", "), "; evaluated on ", plural_of(c.eval_input),
                 c.open_clip ? "; exports to open_clip" : "");
}

void print_catalog(const std::string& title, const std::vector<CatalogEntry>& entries, bool capabilities = false) {
  std::cout << title << ":\n";
  for (const auto& e : entries) {
    std::cout << "  " << e.name << std::string(e.name.size() < 16 ? 16 - e.name.size() : 1, ' ') << e.summary << "\n";
    if (capabilities) std::cout << std::string(18, ' ') << capabilities_line(e.can) << "\n";
  }
}

std::string preset_summary(const config::EmbeddedPreset& p) {
  const YAML::Node n = YAML::Load(p.yaml);
  std::string s;
  if (n["embed_dim"]) s += "embed " + n["embed_dim"].Scalar();
  const YAML::Node v = n["vision"];
  if (v && v["tower"] && v["tower"].Scalar().rfind("resnet", 0) == 0 && v["tower"].Scalar() != "resnet") {
    // torchvision's ResNets (SimCLR)
    s += (s.empty() ? "" : ", ") + std::string("vision torchvision ") + v["tower"].Scalar() +
         (v["width"] ? " (width " + v["width"].Scalar() + ")" : "") +
         (v["image_size"] ? " @ " + v["image_size"].Scalar() + "px" : "");
  } else if (v && v["resnet_layers"] && v["width"] && v["image_size"]) {
    std::string stages;
    for (const auto& l : v["resnet_layers"]) stages += (stages.empty() ? "" : "-") + l.Scalar();
    s += ", vision ResNet " + stages + " (stem " + v["width"].Scalar() + "w) @ " + v["image_size"].Scalar() + "px";
  } else if (v && v["width"] && v["layers"] && v["patch_size"] && v["image_size"]) {
    s += ", vision " + v["width"].Scalar() + "w x " + v["layers"].Scalar() + "L / patch " + v["patch_size"].Scalar() +
         " @ " + v["image_size"].Scalar() + "px";
  }
  if (n["text"] && n["text"]["width"])
    s += ", text " + n["text"]["width"].Scalar() + "w x " + n["text"]["layers"].Scalar() + "L";
  if (n["simclr"]) {
    const YAML::Node h = n["simclr"];
    s += ", SimCLR head";
    if (h["hidden_layers"]) s += " " + h["hidden_layers"].Scalar() + " hidden";
    if (h["dim"]) s += " -> " + h["dim"].Scalar();
  }
  if (n["vatt"]) {
    const YAML::Node t = n["vatt"], video = n["video"];
    s += (s.empty() ? "" : ", ") + std::string("VATT");
    if (t["backbone"]) s += " " + t["backbone"].Scalar();
    if (t["width"] && t["layers"]) s += ": " + t["width"].Scalar() + "w x " + t["layers"].Scalar() + "L";
    if (video && video["frames"] && video["size"]) s += ", video " + video["frames"].Scalar() + " x " + video["size"].Scalar() + "px";
    if (t["audio_samples"] && t["audio_rate"]) s += ", audio " + t["audio_samples"].Scalar() + " samples @ " + t["audio_rate"].Scalar() + " Hz";
    if (t["text"] && t["text"]["width"] && t["text"]["layers"])
      s += ", text " + t["text"]["width"].Scalar() + "w x " + t["text"]["layers"].Scalar() + "L";
  }
  if (n["fdt"]) {
    const YAML::Node f = n["fdt"];
    s += (s.empty() ? "" : ", ") + std::string("FDT on ") + (n["base"] ? n["base"].Scalar() : std::string("the defaults"));
    if (f["tokens"] && f["dim"]) s += ": " + f["tokens"].Scalar() + " tokens x " + f["dim"].Scalar();
    if (f["weighting"]) s += ", " + f["weighting"].Scalar();
    if (f["temperature"]) s += ", tau " + f["temperature"].Scalar();
    if (f["pooling"]) s += ", " + f["pooling"].Scalar() + " pooling";
  }
  return s;
}

// Markdown table of every key: docs/CONFIG.md's reference section is this output.
void print_keys() {
  config::RunConfig defaults;
  config::Schema schema(defaults);
  std::string section;
  for (const config::Field& f : schema.fields()) {
    const std::string top = f.key.substr(0, f.key.find('.'));
    if (top != section) {
      section = top;
      std::cout << "\n### " << section << "\n\n| key | type | default | accepted | meaning |\n|---|---|---|---|---|\n";
    }
    std::cout << "| `" << f.key << "` | " << f.type << " | `" << f.default_text << "` | " << f.expect << " | "
              << f.doc << " |\n";
  }
}

class List : public Command {
 public:
  std::string name() const override { return "list"; }
  std::string summary() const override { return "List models, losses, datasets and presets (--keys: config keys)"; }
  void add_options(CLI::App& app) override {
    app.add_flag("--keys", keys_, "Print every configuration key as a Markdown table");
  }
  int run() override {
    if (keys_) {
      print_keys();
      return 0;
    }
    print_catalog("models (model.name)", model_catalog(), /*capabilities=*/true);
    print_catalog("losses (loss.name)", loss_catalog());
    print_catalog("datasets (data.type)", dataset_catalog());
    std::vector<CatalogEntry> presets;
    for (const auto& p : config::embedded_presets()) presets.push_back({p.name, preset_summary(p), {}});
    print_catalog("presets (model.preset)", presets);
    std::vector<CatalogEntry> runs;
    for (const auto& r : config::embedded_run_configs()) runs.push_back({r.name, config::run_config_description(r), {}});
    print_catalog("run configs (configs/runs/; --config NAME)", runs);
    return 0;
  }

 private:
  bool keys_ = false;
};

}  // namespace

std::unique_ptr<Command> make_list() { return std::make_unique<List>(); }

}  // namespace mmcl::cli

#pragma once
// Names and capabilities of the registered components (models, losses, datasets). Torch-free, so the
// config layer can validate names and combinations and `mmcl list` can print them; each table lives
// next to the components it names. Code that must know what a component does asks its entry here
// instead of comparing names.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "mmcl/core/choices.h"

namespace mmcl {

// Where a dataset's samples come from (data.train).
enum class DataSource { generated, manifest, shards };

// What a component reads, produces or works with. Fields that do not apply to a kind stay empty.
struct Capabilities {
  // Models: what one training sample must hold (image, text, video, audio). Datasets: what their
  // samples can hold.
  std::vector<Modality> reads = {};
  // Models: augmented views of each training sample (CVRL's two clips, SimCLR's two crops).
  int64_t views = 1;
  // Models: the loss.name values and data.type values they train with.
  std::vector<std::string> losses = {};
  std::vector<std::string> data = {};
  // Models: what the evaluation subcommands feed them (a labelled set's files).
  Modality eval_input = Modality::image;
  // Models: `mmcl export` writes open_clip's format (else an mmcl model preset).
  bool open_clip = false;
  // Models: the model.* sections they are built from (vision, text, fdt, video, cvrl, vatt), whose
  // rules the config loader checks.
  std::vector<std::string> sections = {};
  // Datasets: captions are tokenized (false: ids are made directly, as synthetic data does).
  bool tokenizes = true;
  // Datasets: what data.train names (nothing, a manifest file, or tar shards).
  DataSource source = DataSource::manifest;

  bool has(Modality m) const { return std::find(reads.begin(), reads.end(), m) != reads.end(); }
  bool trains_with_loss(const std::string& name) const {
    return std::find(losses.begin(), losses.end(), name) != losses.end();
  }
  bool trains_on(const std::string& type) const { return std::find(data.begin(), data.end(), type) != data.end(); }
  bool built_from(const std::string& section) const {
    return std::find(sections.begin(), sections.end(), section) != sections.end();
  }
};

struct CatalogEntry {
  std::string name;
  std::string summary;
  Capabilities can = {};
};

std::vector<CatalogEntry> model_catalog();    // lib/mmcl/models/registry.cpp
std::vector<CatalogEntry> loss_catalog();     // lib/mmcl/losses/registry.cpp
std::vector<CatalogEntry> dataset_catalog();  // lib/mmcl/data/registry.cpp

std::vector<std::string> names_of(const std::vector<CatalogEntry>& catalog);
// The capabilities of a model (model.name) or a dataset (data.type); a ConfigError naming the key for
// an unknown name.
const Capabilities& model_capabilities(const std::string& name);
const Capabilities& dataset_capabilities(const std::string& type);

}  // namespace mmcl

#pragma once
// Names of the registered components (models, losses, datasets). Torch-free, so the config layer can
// validate names and `mmcl list` can print them; each table lives next to the components it names.

#include <string>
#include <vector>

namespace mmcl {

struct CatalogEntry {
  std::string name;
  std::string summary;
};

std::vector<CatalogEntry> model_catalog();    // lib/mmcl/models/registry.cpp
std::vector<CatalogEntry> loss_catalog();     // lib/mmcl/losses/registry.cpp
std::vector<CatalogEntry> dataset_catalog();  // lib/mmcl/data/registry.cpp

std::vector<std::string> names_of(const std::vector<CatalogEntry>& catalog);

}  // namespace mmcl

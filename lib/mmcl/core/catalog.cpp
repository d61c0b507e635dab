#include "mmcl/core/catalog.h"

#include "mmcl/core/error.h"

namespace mmcl {
namespace {

const Capabilities& find(const std::vector<CatalogEntry>& catalog, const std::string& key, const std::string& name) {
  for (const CatalogEntry& e : catalog)
    if (e.name == name) return e.can;
  throw ConfigError(str_cat(key, ": unknown name \"", name, "\""));
}

}  // namespace

std::vector<std::string> names_of(const std::vector<CatalogEntry>& catalog) {
  std::vector<std::string> names;
  for (const auto& e : catalog) names.push_back(e.name);
  return names;
}

const Capabilities& model_capabilities(const std::string& name) {
  static const std::vector<CatalogEntry> catalog = model_catalog();
  return find(catalog, "model.name", name);
}

const Capabilities& dataset_capabilities(const std::string& type) {
  static const std::vector<CatalogEntry> catalog = dataset_catalog();
  return find(catalog, "data.type", type);
}

}  // namespace mmcl

#pragma once
// A name -> factory table, one per kind of component (models, losses, datasets).

#include <string>
#include <utility>
#include <vector>

#include "mmcl/core/catalog.h"
#include "mmcl/core/error.h"

namespace mmcl {

template <class Factory>
class Registry {
 public:
  struct Entry {
    std::string name;
    std::string summary;
    Factory make;
    Capabilities can = {};  // what the component reads and works with (catalog.h)
  };

  Registry(std::string key, std::vector<Entry> entries) : key_(std::move(key)), entries_(std::move(entries)) {}

  const Factory& get(const std::string& name) const {
    for (const Entry& e : entries_)
      if (e.name == name) return e.make;
    throw ConfigError(str_cat(key_, ": unknown name \"", name, "\""));
  }

  std::vector<CatalogEntry> catalog() const {
    std::vector<CatalogEntry> out;
    for (const Entry& e : entries_) out.push_back({e.name, e.summary, e.can});
    return out;
  }

 private:
  std::string key_;
  std::vector<Entry> entries_;
};

}  // namespace mmcl

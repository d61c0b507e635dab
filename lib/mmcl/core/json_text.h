#pragma once
// JSON written by mmcl (results, metrics, metadata, vocabularies): text from files (paths, captions,
// class names) may not be UTF-8, which nlohmann::json refuses to write; ill-formed bytes are written
// as U+FFFD instead of ending the run after its work is done.

#include <string>

#include <nlohmann/json.hpp>

namespace mmcl {

inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mmcl

#pragma once
// Running an evaluation subcommand for its results.json, for the end-to-end tests.

#include <nlohmann/json.hpp>

#include "util.h"

namespace mmcl::test {

// Runs `mmcl <args>` in `cwd`, requires exit status 0 (showing the output otherwise) and returns the
// parsed <cwd>/runs/<run_name>/results.json.
nlohmann::json run_for_results(const std::string& args, const fs::path& cwd, const std::string& run_name);

}  // namespace mmcl::test

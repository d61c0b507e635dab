#pragma once
// The subcommand table. `apps/mmcl/main.cpp` registers every entry with CLI11 and runs the chosen one.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace mmcl::cli {

class Command {
 public:
  virtual ~Command() = default;
  virtual std::string name() const = 0;
  virtual std::string summary() const = 0;
  virtual void add_options(CLI::App& app) = 0;
  // Runs after parsing; returns the exit code (errors are thrown).
  virtual int run() = 0;
};

std::vector<std::unique_ptr<Command>> make_commands();

std::string version_text();
// Runs `fn` and turns whatever it throws into a one-line message and an exit code: 2 for usage and
// config errors, 1 for runtime failures.
int guarded(const std::function<int()>& fn);
// When argv[1] names no subcommand (and is not an option): prints "unknown subcommand 'X'; did you mean
// 'Y'?" with the list, returns 2; else -1.
int unknown_subcommand_exit(int argc, char** argv, const std::vector<std::unique_ptr<Command>>& commands);
// The end of a run subcommand's --help: the config keys it needs (config::required_files) and an example.
std::string help_footer(const std::string& subcommand);
// Prints a CLI11 parse result (help, version or an error) and returns the exit code (0 or 2).
int parse_error_exit(const CLI::App& app, const CLI::ParseError& error);

}  // namespace mmcl::cli

// mmcl: parse the subcommand, look it up in the table, run it.
#include <map>

#include "mmcl/cli/command.h"

int main(int argc, char** argv) {
  return mmcl::cli::guarded([&] {
    CLI::App app{"mmcl: multimodal contrastive learning (CLIP, FDT, VATT, CVRL)", "mmcl"};
    app.set_version_flag("--version", mmcl::cli::version_text());
    app.require_subcommand(1);
    const auto commands = mmcl::cli::make_commands();
    if (const int code = mmcl::cli::unknown_subcommand_exit(argc, argv, commands); code >= 0) return code;
    std::map<CLI::App*, mmcl::cli::Command*> table;
    for (const auto& command : commands) {
      CLI::App* sub = app.add_subcommand(command->name(), command->summary());
      command->add_options(*sub);
      table[sub] = command.get();
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return mmcl::cli::parse_error_exit(app, e);
    }
    for (const auto& [sub, command] : table)
      if (sub->parsed()) return command->run();
    return 2;
  });
}

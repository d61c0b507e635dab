// mmcl completion: the script is valid bash and completes subcommands, their own options, config keys
// after --set and built-in run configs after --config, as bash's completion machinery calls it.

#include "media/probe.h"
#include "util.h"

using namespace mmcl::test;

namespace {
// COMPREPLY after calling the completion function on `words` (the last one being completed).
std::string complete(const fs::path& script, const std::string& words, int cword) {
  return command_output("bash -c 'source " + script.string() + " && COMP_WORDS=(" + words + ") && COMP_CWORD=" +
                        std::to_string(cword) + " && _mmcl; echo \"${COMPREPLY[*]}\"'");
}
}  // namespace

CATCH_TEST_CASE("mmcl completion: bash completes subcommands, options, --set keys and run configs", "[cli]") {
  TempDir dir;
  const auto bash = run_mmcl("completion bash", dir.path());
  CATCH_REQUIRE(bash.exit_code == 0);
  CATCH_CHECK(bash.output.find("complete -F _mmcl mmcl") != std::string::npos);
  write_text(dir / "mmcl.bash", bash.output);
  CATCH_CHECK(command_output("bash -n " + (dir / "mmcl.bash").string() + " && echo ok") == "ok\n");
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl pret", 1) == "pretrain\n");
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl cl", 1) == "classify\n");
  const std::string keys = complete(dir / "mmcl.bash", "mmcl pretrain --set optim.l", 3);
  CATCH_CHECK(keys.find("optim.lr=") != std::string::npos);
  CATCH_CHECK(keys.find("optim.lars_eta=") != std::string::npos);
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl pretrain --config simclr", 3).find("simclr-r18-fashion-mnist") !=
              std::string::npos);
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl pretrain --res", 2) == "--resume\n");
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl zeroshot --res", 2) == "\n");  // evaluations do not resume
  CATCH_CHECK(complete(dir / "mmcl.bash", "mmcl classify --classes-", 2) == "--classes-file\n");
  const auto zsh = run_mmcl("completion zsh", dir.path());
  CATCH_CHECK(zsh.exit_code == 0);
  CATCH_CHECK(zsh.output.rfind("autoload -U +X bashcompinit && bashcompinit\n", 0) == 0);
  CATCH_CHECK(run_mmcl("completion fish", dir.path()).exit_code == 2);
}

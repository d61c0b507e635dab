#pragma once
// Several processes at once for the distributed tests: start with extra environment variables,
// wait with a deadline, find a free port.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace mmcl::test {

// Runs `sh -c "cd CWD && ENV exec PROGRAM ARGS > LOG 2>&1"` without waiting; returns its pid.
// `env` is a list of NAME=value words; `program` and `args` are not quoted further.
pid_t spawn_process(const std::string& program, const std::string& args, const std::string& env,
                    const std::filesystem::path& cwd, const std::filesystem::path& log);
// Waits up to `seconds` for `pid`: its exit status (-1 if it did not exit normally), or nullopt
// when the deadline passed (the process is then still running).
std::optional<int> wait_exit_for(pid_t pid, double seconds);
// Kills `pid` (SIGKILL) and reaps it; safe to call for a process already reaped.
void kill_and_reap(pid_t pid);
// A TCP port on 127.0.0.1 that nothing listens on now.
int free_port();
// The path of this test executable.
std::string self_executable();

}  // namespace mmcl::test

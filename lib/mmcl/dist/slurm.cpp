#include "mmcl/dist/slurm.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "mmcl/core/log.h"

extern char** environ;

namespace mmcl::dist {

bool requeue_slurm_job() {
  const char* job = std::getenv("SLURM_JOB_ID");
  if (!job || !*job) {
    spdlog::warn("train.requeue: not running under SLURM (no SLURM_JOB_ID); nothing to requeue");
    return false;
  }
  std::string program = "scontrol", verb = "requeue", id = job;
  char* argv[] = {program.data(), verb.data(), id.data(), nullptr};
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "scontrol", nullptr, nullptr, argv, environ) != 0) {
    spdlog::warn("cannot run scontrol to requeue job {}; requeue it by hand (scontrol requeue {})", id, id);
    return false;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok)
    spdlog::info("requeued SLURM job {}: it resumes from the latest checkpoint when it starts again", id);
  else
    spdlog::warn("scontrol requeue {} failed (status {}); requeue it by hand", id, status);
  return ok;
}

bool slurm_restarted() {
  const char* count = std::getenv("SLURM_RESTART_COUNT");
  return count && std::atoi(count) > 0;
}

}  // namespace mmcl::dist

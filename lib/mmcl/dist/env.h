#pragma once
// Who this process is in a multi-process run, read from the launcher's environment in this order:
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), then SLURM (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, the first host of SLURM_JOB_NODELIST), then the config's dist.* keys.
// Each value is taken from the first source that has it, so MASTER_PORT may complete a SLURM launch.

#include <cstdint>
#include <functional>
#include <string>

#include "mmcl/config/config.h"

namespace mmcl::dist {

struct Env {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string launcher = "config";  // torchrun | slurm | config: where rank and world size came from

  bool distributed() const { return world_size > 1; }
};

using Getenv = std::function<const char*(const char*)>;

// Throws ConfigError naming the variable (or dist.* key) when a value is malformed or inconsistent.
Env resolve_env(const config::DistConfig& config, const Getenv& getenv);
Env resolve_env(const config::DistConfig& config);  // from the process environment

// The first host of a SLURM node list: "gpu[003-005,010],cpu01" -> "gpu003".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace mmcl::dist

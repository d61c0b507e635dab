#include "mmcl/dist/env.h"

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "mmcl/core/error.h"

namespace mmcl::dist {
namespace {

std::optional<int64_t> read_int(const Getenv& getenv, const char* name) {
  const char* text = getenv(name);
  if (!text || !*text) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0')
    throw ConfigError(str_cat("environment variable ", name, "=\"", text, "\": expected an integer"));
  return static_cast<int64_t>(v);
}

std::optional<std::string> read_text(const Getenv& getenv, const char* name) {
  const char* text = getenv(name);
  if (!text || !*text) return std::nullopt;
  return std::string(text);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets; a bracket holds ranges and lists of suffixes.
  size_t i = 0;
  std::string prefix;
  while (i < nodelist.size() && nodelist[i] != ',' && nodelist[i] != '[') prefix += nodelist[i++];
  if (i >= nodelist.size() || nodelist[i] == ',') return prefix;
  const size_t close = nodelist.find(']', i);
  MMCL_CHECK(close != std::string::npos, "SLURM_JOB_NODELIST=\"", nodelist, "\": unbalanced '['");
  std::string first = nodelist.substr(i + 1, close - i - 1);
  first = first.substr(0, first.find(','));
  first = first.substr(0, first.find('-'));
  // A suffix after the bracket ("n[1-2]-ib") belongs to every host.
  std::string suffix;
  for (size_t j = close + 1; j < nodelist.size() && nodelist[j] != ','; ++j) suffix += nodelist[j];
  return prefix + first + suffix;
}

Env resolve_env(const config::DistConfig& config, const Getenv& getenv) {
  Env env;
  env.rank = config.rank;
  env.world_size = config.world_size;
  env.local_rank = config.local_rank;
  env.master_addr = config.master_addr;
  env.master_port = config.master_port;

  const auto torch_rank = read_int(getenv, "RANK");
  const auto torch_world = read_int(getenv, "WORLD_SIZE");
  const auto slurm_rank = read_int(getenv, "SLURM_PROCID");
  const auto slurm_world = read_int(getenv, "SLURM_NTASKS");
  if (torch_rank || torch_world) {
    if (!torch_rank || !torch_world)
      throw ConfigError("environment: RANK and WORLD_SIZE must be set together (torchrun sets both)");
    env.rank = *torch_rank;
    env.world_size = *torch_world;
    env.local_rank = read_int(getenv, "LOCAL_RANK").value_or(env.rank);
    env.launcher = "torchrun";
  } else if (slurm_rank && slurm_world) {
    env.rank = *slurm_rank;
    env.world_size = *slurm_world;
    env.local_rank = read_int(getenv, "SLURM_LOCALID").value_or(env.rank);
    env.launcher = "slurm";
  }
  if (env.local_rank < 0) env.local_rank = env.rank;

  if (auto addr = read_text(getenv, "MASTER_ADDR")) {
    env.master_addr = *addr;
  } else if (env.launcher == "slurm") {
    if (auto nodes = read_text(getenv, "SLURM_JOB_NODELIST")) env.master_addr = first_slurm_host(*nodes);
  }
  if (auto port = read_int(getenv, "MASTER_PORT")) env.master_port = *port;

  const std::string from = env.launcher == "torchrun" ? "RANK/WORLD_SIZE"
                           : env.launcher == "slurm"  ? "SLURM_PROCID/SLURM_NTASKS"
                                                      : "dist.rank/dist.world_size";
  if (env.world_size < 1) throw ConfigError(str_cat(from, ": the world size is ", env.world_size, "; it must be >= 1"));
  if (env.rank < 0 || env.rank >= env.world_size)
    throw ConfigError(str_cat(from, ": rank ", env.rank, " is outside [0, ", env.world_size, ")"));
  if (env.master_port < 1 || env.master_port > 65535)
    throw ConfigError(str_cat("dist.master_port / MASTER_PORT: ", env.master_port, " is not a TCP port (1-65535)"));
  if (env.distributed() && env.master_addr.empty())
    throw ConfigError("dist.master_addr / MASTER_ADDR: empty; several processes need the host of rank 0");
  return env;
}

Env resolve_env(const config::DistConfig& config) {
  return resolve_env(config, [](const char* name) { return std::getenv(name); });
}

}  // namespace mmcl::dist

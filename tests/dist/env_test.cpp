#include <map>
#include <string>

#include "mmcl/core/error.h"
#include "mmcl/dist/env.h"
#include "util.h"

using namespace mmcl;

namespace {

dist::Getenv from(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

CATCH_TEST_CASE("the first host of a SLURM node list", "[dist]") {
  CATCH_CHECK(dist::first_slurm_host("node07") == "node07");
  CATCH_CHECK(dist::first_slurm_host("gpu[003-005,010],cpu01") == "gpu003");
  CATCH_CHECK(dist::first_slurm_host("a01,a02") == "a01");
  CATCH_CHECK(dist::first_slurm_host("n[12,4-6]") == "n12");
  CATCH_CHECK(dist::first_slurm_host("rack1-n[7-9]-ib") == "rack1-n7-ib");
  CATCH_CHECK_THROWS_AS(dist::first_slurm_host("n[1-2"), Error);
}

CATCH_TEST_CASE("torchrun's variables win over SLURM's, which win over the config", "[dist]") {
  config::DistConfig c;
  c.world_size = 3;
  c.rank = 2;
  c.master_addr = "cfg-host";
  c.master_port = 1234;

  const dist::Env fallback = dist::resolve_env(c, from({}));
  CATCH_CHECK(fallback.launcher == "config");
  CATCH_CHECK(fallback.rank == 2);
  CATCH_CHECK(fallback.world_size == 3);
  CATCH_CHECK(fallback.local_rank == 2);  // -1 in the config: the rank
  CATCH_CHECK(fallback.master_addr == "cfg-host");
  CATCH_CHECK(fallback.master_port == 1234);

  const std::map<std::string, std::string> slurm = {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"},
                                                    {"SLURM_LOCALID", "1"}, {"SLURM_JOB_NODELIST", "gpu[04-05]"}};
  const dist::Env s = dist::resolve_env(c, from(slurm));
  CATCH_CHECK(s.launcher == "slurm");
  CATCH_CHECK(s.rank == 5);
  CATCH_CHECK(s.world_size == 8);
  CATCH_CHECK(s.local_rank == 1);
  CATCH_CHECK(s.master_addr == "gpu04");
  CATCH_CHECK(s.master_port == 1234);  // SLURM has no port: the config's

  auto both = slurm;
  both.insert({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "10.0.0.1"},
               {"MASTER_PORT", "29555"}});
  const dist::Env t = dist::resolve_env(c, from(both));
  CATCH_CHECK(t.launcher == "torchrun");
  CATCH_CHECK(t.rank == 1);
  CATCH_CHECK(t.world_size == 2);
  CATCH_CHECK(t.local_rank == 0);
  CATCH_CHECK(t.master_addr == "10.0.0.1");
  CATCH_CHECK(t.master_port == 29555);

  // MASTER_PORT completes a SLURM launch.
  auto slurm_port = slurm;
  slurm_port["MASTER_PORT"] = "40000";
  CATCH_CHECK(dist::resolve_env(c, from(slurm_port)).master_port == 40000);
}

CATCH_TEST_CASE("malformed or inconsistent launcher variables are config errors", "[dist]") {
  config::DistConfig c;
  auto message = [&](const std::map<std::string, std::string>& vars) -> std::string {
    try {
      dist::resolve_env(c, from(vars));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CATCH_CHECK(message({{"RANK", "0"}}).find("RANK and WORLD_SIZE") != std::string::npos);
  CATCH_CHECK(message({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK=\"x\"") != std::string::npos);
  CATCH_CHECK(message({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("rank 2 is outside [0, 2)") != std::string::npos);
  CATCH_CHECK(message({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}}).find("world size is 0") != std::string::npos);
  CATCH_CHECK(message({{"MASTER_PORT", "70000"}}).find("not a TCP port") != std::string::npos);
  CATCH_CHECK(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).empty());
}

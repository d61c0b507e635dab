#include "mmcl/dist/launch.h"

#include <torch/cuda.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/dist/group.h"

namespace mmcl::dist {

Runtime setup_training_runtime(const config::RunConfig& config, const Env& env) {
  log::set_rank(env.rank, env.world_size);
  Runtime runtime = setup_runtime(config.runtime);
  if (runtime.device.is_cuda() && env.distributed()) {
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    runtime.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank % count));
    if (env.local_rank >= count)
      spdlog::warn("local rank {} but {} GPUs visible: sharing GPU {}", env.local_rank, count, runtime.device.index());
  }
  runtime.group = connect(env, config.dist, runtime.device);
  if (env.distributed())
    spdlog::info("process group ready: {} ranks, {} backend, this rank on {}", env.world_size,
                 runtime.group->backend(), runtime.device.str());
  return runtime;
}

}  // namespace mmcl::dist

namespace mmcl::dist {

std::string describe_runtime(const Runtime& runtime) {
  std::string text = str_cat(build_description(), " | device ", runtime.device.str(), " | ", runtime.threads,
                             " intra-op threads");
  if (runtime.group && runtime.group->world_size() > 1)
    text += str_cat(" | rank ", runtime.group->rank(), " of ", runtime.group->world_size(), " (",
                    runtime.group->backend(), ")");
  return text;
}

}  // namespace mmcl::dist

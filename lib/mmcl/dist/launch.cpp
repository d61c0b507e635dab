#include "mmcl/dist/launch.h"

#include <torch/cuda.h>

#include "mmcl/core/error.h"
#include "mmcl/core/log.h"
#include "mmcl/dist/group.h"

namespace mmcl::dist {

c10::Device local_device(const c10::Device& device, const Env& env) {
  if (!device.is_cuda() || !env.distributed()) return device;
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  const c10::Device local(c10::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank % count));
  if (env.local_rank >= count)
    spdlog::warn("local rank {} but {} GPUs visible: sharing GPU {}", env.local_rank, count, local.index());
  return local;
}

Runtime setup_training_runtime(const c10::Device& device, int64_t threads, const config::DistConfig& dist,
                               const Env& env) {
  log::set_rank(env.rank, env.world_size);
  Runtime runtime = setup_runtime(device, threads);
  runtime.group = connect(env, dist, runtime.device);
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

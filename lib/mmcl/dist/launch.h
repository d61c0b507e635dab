#pragma once
// Starting a training run that may span several processes.

#include <string>

#include "mmcl/config/config.h"
#include "mmcl/core/runtime.h"
#include "mmcl/dist/env.h"

namespace mmcl::dist {

// The device of a process of `env`: for CUDA, the GPU of its local rank (shared when there are fewer).
c10::Device local_device(const c10::Device& device, const Env& env);

// setup_runtime() for a process of `env` on its `device` (local_device): the log names the rank (other
// ranks log warnings only), and with several processes the rendezvous runs and runtime.group is their
// process group (else a one-process group). Call it after every check that can refuse the run and
// before rank 0 writes anything: the rendezvous waits for every rank, so no rank writes before every
// rank has checked.
Runtime setup_training_runtime(const c10::Device& device, int64_t threads, const config::DistConfig& dist,
                               const Env& env);

// "device cpu | 2 intra-op threads | BLAS ... [| rank 0 of 4 (gloo)]": the run's first log line, repeated
// into train.log once rank 0 opens the run directory.
std::string describe_runtime(const Runtime& runtime);

}  // namespace mmcl::dist

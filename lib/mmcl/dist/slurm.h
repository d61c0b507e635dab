#pragma once
// SLURM's side of preemption: requeueing the running job, and knowing a start is a requeued one.

namespace mmcl::dist {

// Under SLURM (SLURM_JOB_ID set): runs `scontrol requeue $SLURM_JOB_ID` and logs the outcome.
// Returns whether scontrol succeeded; false (with a warning) outside SLURM or when it failed.
bool requeue_slurm_job();

// Whether SLURM started this job again after a requeue (SLURM_RESTART_COUNT > 0): the run resumes.
bool slurm_restarted();

}  // namespace mmcl::dist

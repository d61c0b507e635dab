#pragma once
// Graceful stops: the first SIGINT, SIGTERM or SIGUSR1 asks the run to stop at the next step boundary
// (after writing a checkpoint); a second one ends the process at once. SIGUSR1 is SLURM's warning
// before a time limit or preemption (#SBATCH --signal=USR1@120): the trainer also requeues the job.

namespace mmcl {

void install_stop_handlers();
bool stop_requested();
// The signal that asked for the stop (0: none).
int stop_signal();

}  // namespace mmcl

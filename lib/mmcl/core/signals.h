#pragma once
// Graceful stops: the first SIGINT or SIGTERM asks the run to stop at the next step boundary (after
// writing a checkpoint); a second one ends the process at once.

namespace mmcl {

void install_stop_handlers();
bool stop_requested();
// The signal that asked for the stop (0: none).
int stop_signal();

}  // namespace mmcl

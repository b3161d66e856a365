// Stop requests by signal (SIGTERM, SIGUSR1, SIGINT): Slurm's preemption and
// time-limit warnings, scancel, Ctrl-C. The first signal asks the trainer to
// stop at the next step boundary with a checkpoint; a second one ends the
// process at once (the signal's default action), leaving the last checkpoint,
// which is always complete on disk, as it was.
#pragma once

namespace digitnet {

// Installs the handlers (once per process).
void stop_signals_install();

// The first stop signal received so far, or 0.
int stop_signal_received();

}  // namespace digitnet

// Stop requests by signal (SIGTERM, SIGUSR1, SIGINT): Slurm's preemption and
// time-limit warnings, scancel, Ctrl-C. The first signal asks the trainer to
// stop at the next step boundary with a checkpoint; a second one ends the
// process at once (the signal's default action), leaving the last checkpoint,
// which is always complete on disk, as it was.
//
// No signal handler runs inside the trainer's threads: the stop signals are
// blocked in every thread, and one thread of ours takes them with sigwait().
// An asynchronous handler may interrupt any thread (an OpenMP worker inside
// oneDNN, a thread of Open MPI or PMIx); with one, 2-rank runs stopped by SIGUSR1
// under mpirun ended in glibc heap-corruption aborts (1 in 8 to 1 in 25 runs).
#pragma once

namespace digitnet {

// Blocks the stop signals in the calling thread, and so in every thread it
// creates from now on, and starts the thread that waits for them (once per
// process). Call it first in main(), before MPI_Init and before any other thread.
void stop_signals_install();

// The first stop signal received so far, or 0.
int stop_signal_received();

}  // namespace digitnet

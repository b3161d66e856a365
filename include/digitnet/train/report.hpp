// What the user sees of a training run: every line printed and every CSV row.
// Rank 0 reports; the Reporter of every other rank stays silent.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "digitnet/core/optim.hpp"
#include "digitnet/train/setup.hpp"
#include "digitnet/train/timeline.hpp"

namespace digitnet {

class ShardedAdam;

// Why the run stopped early ("none": it ran all its epochs).
struct StopReason {
  enum Kind { none, signal, max_steps, early_stop } kind = none;
  int signal_number = 0;  // for kind == signal
  bool any() const { return kind != none; }
};

// A checkpoint rank 0 wrote: its file, its size and how long writing it took.
struct CheckpointCost {
  std::string path;
  uint64_t bytes = 0;
  double seconds = 0;
};

class Reporter {
 public:
  // speak: print progress (rank 0 without --quiet); write: own the CSV file and
  // the final lines (rank 0). Opens --metrics for appending (Error(usage) if it cannot).
  Reporter(const TrainOptions& opts, bool speak, bool write);
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // The run's shape, its plan and where it starts.
  void start(const TrainStart& start, int ranks, int threads, const LrPlan& plan, uint64_t steps_per_epoch);
  // The gradient exchange: buckets, wire, and the optimizer state this rank holds.
  void exchange(const ShardedAdam& optimizer, const TrainOptions& opts, int ranks);
  // One line and one CSV row per epoch (also for a stop inside it).
  void epoch(const EpochRecord& rec, bool evaluated, bool epoch_done, const TrainState& state, uint64_t steps_per_epoch);
  void early_stop(const TrainState& state);
  // A checkpoint inside an epoch (--checkpoint-every-steps/-seconds): the first is
  // reported with its cost, the others are counted for the last line.
  void cadence_checkpoint(const CheckpointCost& cost);
  // The --timeline file rank 0 wrote (its size, events and cost), or why it could not.
  void timeline(const TimelineWritten& written);
  void timeline_failed(const std::string& why);
  // The last line: stopped by a signal (returns kExitStoppedBySignal) or done (returns 0).
  int finish(const StopReason& stop, const TrainState& state);

 private:
  const TrainOptions& opts_;
  const bool speak_, write_;
  FILE* metrics_ = nullptr;
  const std::chrono::steady_clock::time_point run_start_ = std::chrono::steady_clock::now();
  uint64_t first_step_ = 0;
  uint64_t cadence_count_ = 0;  // checkpoints inside epochs, and their total time
  double cadence_seconds_ = 0;
};

// Exit status after a stop signal (SIGTERM, SIGUSR1, SIGINT): all ranks stopped
// at the same step boundary and rank 0 wrote a checkpoint there; `--resume latest`
// continues. 75 is EX_TEMPFAIL of sysexits.h: "try again later".
constexpr int kExitStoppedBySignal = 75;

}  // namespace digitnet

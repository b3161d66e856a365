// The training loop (DESIGN.md's data flow): every rank runs the same steps on
// its shard of each global batch, so the replicas stay bitwise equal.
//
//   train_run    setup, then epochs of train_step, each epoch closed by epoch_end
//   train_step   this rank's shard -> forward, loss, backward (buckets reduce-
//                scattered as they are ready) -> agreement on stop -> clip ->
//                Adam on this rank's slices -> allgather (sharded_adam.hpp)
//   epoch_end    (in train.cpp) reduce the metrics, evaluate, keep the best, checkpoint
#pragma once
#include <cstdint>
#include <vector>

#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/core/shard.hpp"
#include "digitnet/train/options.hpp"
#include "digitnet/train/report.hpp"
#include "digitnet/train/snapshot.hpp"

namespace digitnet {

class Timeline;
class World;
class ShardedAdam;

// This rank's slice of one global batch, gathered, normalised (and distorted).
struct ShardBatch {
  Range batch;                  // the global batch: positions in the epoch's permutation
  Range mine;                   // this rank's part: positions within the batch
  std::vector<float> x;         // (mine.size(), features)
  std::vector<int32_t> labels;  // (mine.size())
};

// What a step reads but never changes.
struct StepPlan {
  LrPlan lr;
  DecayRanges decayed;          // weight decay on weights, not on biases
  bool check_replicas = false;  // compare a hash of the parameters across ranks after the step
  Timeline* timeline = nullptr;  // --timeline: the step's spans are recorded here (null: off)
};

// Sums over the steps of an epoch on this rank.
struct StepSums {
  double loss = 0;
  uint64_t correct = 0, count = 0;
  double comm_total_seconds = 0;    // gradient exchange: reductions in flight and the allgathers
  double comm_exposed_seconds = 0;  // of which this rank waited (for them, and in the stop agreement)
};

// What every rank agrees on after a step (one small collective carries both).
struct StepAgreement {
  int stop_signal = 0;      // a stop signal some rank has received (0: none)
  bool checkpoint = false;  // some rank asked for a checkpoint after this step
};

// One optimizer step, called by every rank with its own shard of the same global
// batch. Advances state.step and state.step_in_epoch. `want_checkpoint` is this
// rank's wish (rank 0's clock decides --checkpoint-every-seconds).
StepAgreement train_step(World& world, Mlp& model, ShardedAdam& optimizer, TrainState& state, const StepPlan& plan,
                         const ShardBatch& shard, StepSums& sums, bool want_checkpoint = false);

// Runs training on this rank. Returns the exit status.
int train_run(const TrainOptions& opts, World& world);

}  // namespace digitnet

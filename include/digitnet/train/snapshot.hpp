// The live state of a training run, and the snapshot of it that a checkpoint
// holds. The model's parameters live in the Mlp while training; a Snapshot
// copies them only when a checkpoint is written.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/train/history.hpp"
#include "digitnet/train/recipe.hpp"

namespace digitnet {

struct TrainState {
  // The run: fixed when it starts.
  ModelSpec model;
  uint64_t batch_size = 0;   // global
  uint64_t seed = 0;         // initialisation, epoch permutations, dropout and distortions derive from it
  uint64_t epochs = 0;       // planned
  uint64_t train_count = 0;  // training samples
  Recipe recipe;
  // Where it stands.
  uint64_t step = 0;           // optimizer steps taken
  uint64_t epoch = 0;          // the epoch in progress (0-based)
  uint64_t step_in_epoch = 0;  // steps of that epoch already taken
  uint64_t max_steps = 0;      // this invocation's limit (0: none), recorded for the reader
  AdamState adam;
  BestSoFar best;
  std::vector<EpochRecord> history;
};

// Who wrote a checkpoint: for the record, never read back into training.
struct RunMetadata {
  uint32_t world_size = 0, threads = 0;  // ranks, threads per rank
  std::string hostname, slurm_job_id;
  int64_t unix_time = 0;  // seconds since 1970 when written
};

struct Snapshot {
  TrainState state;
  std::vector<float> params;  // flat, mlp_layout order
  RunMetadata run;
};

// Bytes of a checkpoint file for a snapshot, and the inverse (refusing
// truncated, corrupted, foreign or inconsistent input, naming `name`).
std::string snapshot_encode(const Snapshot& snap);
Snapshot snapshot_decode(const std::string& bytes, const std::string& name);
void snapshot_save(const std::string& path, const Snapshot& snap);
Snapshot snapshot_load(const std::string& path);

}  // namespace digitnet

// Checkpoints: atomic, checksummed protobuf files (DESIGN.md invariants 4 and 5).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/train/recipe.hpp"

namespace digitnet {

struct EpochRecord {
  uint64_t epoch = 0, step = 0;
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double seconds = 0, samples_per_second = 0, allreduce_fraction = 0;
};

// Everything a checkpoint holds, in the program's own types.
struct Snapshot {
  MlpShape shape;
  uint32_t rows = 0, cols = 0;  // image shape; rows * cols == shape.inputs
  InputNorm input;
  std::vector<float> params;  // flat, mlp_layout order

  // Training state: where to continue and with what.
  uint64_t step = 0, epoch = 0, step_in_epoch = 0;
  uint64_t batch_size = 0, seed = 0, epochs = 0, max_steps = 0, train_count = 0;
  uint32_t world_size = 0;
  AdamConfig adam;  // adam.lr is the base rate of the schedule
  Recipe recipe;
  AdamState adam_state;
  double best_test_accuracy = -1;  // best evaluation so far (-1: none), its step, evaluations since
  uint64_t best_step = 0, evals_since_best = 0;
  std::vector<EpochRecord> history;

  // Run metadata.
  std::string hostname, slurm_job_id;
  int64_t unix_time = 0;
  uint32_t threads = 0;
};

// "ckpt-00000042.pb"
std::string checkpoint_name(uint64_t step);

// Serializes, checksums and writes atomically: temporary file in the same
// directory, fsync, rename, fsync of the directory.
void checkpoint_save(const std::string& path, const Snapshot& snap);

// Bytes of a checkpoint file for a snapshot, and the inverse; the parser
// refuses truncated, corrupted, foreign or inconsistent input. `name` is used
// in error messages.
std::string checkpoint_encode(const Snapshot& snap);
Snapshot checkpoint_decode(const std::string& bytes, const std::string& name);
Snapshot checkpoint_load(const std::string& path);

// Checkpoint files of a directory, oldest step first.
std::vector<std::string> checkpoint_list(const std::string& dir);
// Newest checkpoint of a directory, or "" if there is none.
std::string checkpoint_latest(const std::string& dir);
// Deletes all but the newest `keep` checkpoints (keep == 0: delete none).
void checkpoint_prune(const std::string& dir, size_t keep);

}  // namespace digitnet

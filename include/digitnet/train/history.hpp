// What training has measured so far: a record per epoch, and the best
// evaluation with the early-stop count. Both travel in the checkpoint.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

class Checkpoint;  // proto/digitnet/checkpoint.proto

struct EpochRecord {
  uint64_t epoch = 0, step = 0;  // epochs completed, steps taken
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;  // NaN when the epoch was not evaluated
  double seconds = 0, samples_per_second = 0;
  double allreduce_fraction = 0;   // share of the epoch this rank waited for the gradient exchange (exposed)
  double comm_total_fraction = 0;  // share of the epoch the exchange was in flight (hidden or not)
};

void history_to_proto(const std::vector<EpochRecord>& history, Checkpoint* ck);
std::vector<EpochRecord> history_from_proto(const Checkpoint& ck);

// The best test accuracy so far (best.pb holds that model) and the evaluations since.
struct BestSoFar {
  double test_accuracy = -1;  // -1: no evaluation yet
  uint64_t step = 0;
  uint64_t evals_since = 0;
  // Counts one evaluation; true when it is a new best.
  bool update(double accuracy, uint64_t at_step);
};

void best_to_proto(const BestSoFar& best, Checkpoint* ck);
BestSoFar best_from_proto(const Checkpoint& ck);

}  // namespace digitnet

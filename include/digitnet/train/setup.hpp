// Before the first step: the data, and the state to start from (fresh, or the
// checkpoint --resume names, checked against the options and the data).
#pragma once
#include <string>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/train/options.hpp"
#include "digitnet/train/snapshot.hpp"

namespace digitnet {

struct TrainStart {
  Dataset train, test;
  TrainState state;
  std::vector<float> params;  // rank 0's are broadcast: replicas start bitwise equal
  std::string resumed_from;   // the checkpoint file ("" = fresh start)
  std::vector<std::string> warnings;  // for the user (rank 0 prints them)
};

// Throws Error naming the file or option at fault. `world_size` ranks will train.
TrainStart train_setup(const TrainOptions& opts, int world_size);

}  // namespace digitnet

// The options of digitnet-train: command line, --config FILE and --preset NAME.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "digitnet/train/recipe.hpp"
#include "digitnet/train/sharded_adam.hpp"

namespace digitnet {

struct TrainOptions {
  std::string data_dir;
  std::vector<uint32_t> hidden{512, 512};
  uint64_t epochs = 10;
  uint64_t batch_size = 128;  // global
  uint64_t seed = 1;
  Recipe recipe;
  std::string checkpoint_dir;
  std::string resume;         // path, directory, "latest" or "auto" (latest if any, else fresh)
  uint64_t max_steps = 0;     // 0 = no limit
  uint64_t train_limit = 0;   // train on the first N training samples only (0 = all)
  uint64_t keep = 0;          // newest checkpoints kept; 0 = all
  uint64_t checkpoint_every_steps = 0;    // also checkpoint every N steps inside epochs (0 = off)
  double checkpoint_every_seconds = 0;    // also checkpoint when S seconds have passed since the last (0 = off)
  std::string metrics_path;
  std::string timeline_path;  // --timeline: Chrome trace of every step ("" = off); of this invocation, not stored
  int threads = 0;            // per rank; 0 = cores of the node / ranks on it
  bool check_replicas = false;
  double collective_timeout = 300;  // seconds a rank may wait in one collective; 0 = forever
  double bucket_mb = 1;             // gradient bucket size (0: one bucket after backward)
  GradWire grad_wire = GradWire::f32;
  Progress progress = Progress::poll;
  bool quiet = false;
  bool verbose = false;       // errors name their origin (file:line, rank)
  bool help = false;
  std::string help_text;
  std::set<std::string> given;  // options set on the command line, in the config file or by the preset
};

// Parses the command line (and --config FILE, --preset NAME). Throws Error(usage)
// with a one-line message on a bad option; sets help and help_text for --help.
TrainOptions train_options_parse(int argc, const char* const* argv);

}  // namespace digitnet

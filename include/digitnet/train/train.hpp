// The trainer: options and the training loop.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "digitnet/core/optim.hpp"
#include "digitnet/train/recipe.hpp"

namespace digitnet {

class World;

struct TrainOptions {
  std::string data_dir;
  std::vector<uint32_t> hidden{512, 512};
  uint64_t epochs = 10;
  uint64_t batch_size = 128;  // global
  AdamConfig adam;
  Recipe recipe;
  uint64_t seed = 1;
  std::string checkpoint_dir;
  std::string resume;         // path, directory, "latest" or "auto" (latest if any, else fresh)
  uint64_t max_steps = 0;     // 0 = no limit
  uint64_t train_limit = 0;   // train on the first N training samples only (0 = all)
  uint64_t keep = 0;          // newest checkpoints kept; 0 = all
  std::string metrics_path;
  int threads = 0;            // per rank; 0 = cores of the node / ranks on it
  bool check_replicas = false;
  double collective_timeout = 300;  // seconds a rank may wait in one collective; 0 = forever
  bool quiet = false;
  bool help = false;
  std::string help_text;
  std::set<std::string> given;  // options set on the command line or in the config file
};

// Parses the command line (and --config FILE). Throws Error(usage) with a
// one-line message on a bad option; sets help and help_text for --help.
TrainOptions train_options_parse(int argc, const char* const* argv);

// Exit status after a stop signal (SIGTERM, SIGUSR1, SIGINT): all ranks stopped
// at the same step boundary and rank 0 wrote a checkpoint there; `--resume latest`
// continues. 75 is EX_TEMPFAIL of sysexits.h: "try again later".
constexpr int kExitStoppedBySignal = 75;

// On resume: the recorded recipe and Adam settings, with the options given now
// (command line, --config, --preset) taking precedence.
void recipe_override(const TrainOptions& opts, Recipe& recipe, AdamConfig& adam);

// Runs training on this rank. Returns the exit status.
int train_run(const TrainOptions& opts, World& world);

}  // namespace digitnet

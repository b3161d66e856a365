// digitnet-train: data-parallel MLP training under mpirun/srun (or alone).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "digitnet/train/dist.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/train/train.hpp"

int main(int argc, char** argv) {
  const std::string problem = digitnet::launch_problem();
  if (!problem.empty()) {  // every task gets here; task 0 says why
    const char* procid = std::getenv("SLURM_PROCID");
    if (!procid || std::string(procid) == "0") std::fprintf(stderr, "digitnet-train: %s\n", problem.c_str());
    return int(digitnet::ErrorKind::usage);
  }
  digitnet::World world(&argc, &argv);
  digitnet::TrainOptions opts;
  try {
    opts = digitnet::train_options_parse(argc, argv);
  } catch (const digitnet::Error& e) {  // the same on every rank: rank 0 says it
    if (world.rank() == 0) std::fprintf(stderr, "digitnet-train: %s (see --help)\n", e.what());
    return e.exit_code();
  }
  if (opts.help) {
    if (world.rank() == 0) std::printf("%s", opts.help_text.c_str());
    return 0;
  }
  try {
    return digitnet::train_run(opts, world);
  } catch (const digitnet::Error& e) {  // a failure of this rank alone, mid-run: end the job
    std::fprintf(stderr, "digitnet-train: rank %d: %s\n", world.rank(), e.what());
    if (world.size() > 1) world.abort(e.exit_code());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-train: rank %d: internal error: %s\n", world.rank(), e.what());
    if (world.size() > 1) world.abort(int(digitnet::ErrorKind::runtime));
    return int(digitnet::ErrorKind::runtime);
  }
}

// digitnet-train: data-parallel MLP training under mpirun/srun (or alone).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "digitnet/core/error.hpp"
#include "digitnet/train/dist.hpp"
#include "digitnet/train/options.hpp"
#include "digitnet/train/stop.hpp"
#include "digitnet/train/train.hpp"

int main(int argc, char** argv) {
  using namespace digitnet;
  stop_signals_install();  // before MPI_Init and any other thread: they all inherit the blocked signals
  const std::string problem = launch_problem();
  if (!problem.empty()) {  // every task gets here; task 0 says why
    const char* procid = std::getenv("SLURM_PROCID");
    if (!procid || std::string(procid) == "0") std::fprintf(stderr, "digitnet-train: %s\n", problem.c_str());
    return int(ErrorKind::usage);
  }
  World world(&argc, &argv);
  TrainOptions opts;
  try {
    opts = train_options_parse(argc, argv);
  } catch (const Error& e) {  // the same on every rank: rank 0 says it
    if (world.rank() == 0) std::fprintf(stderr, "digitnet-train: %s (see --help)\n", e.what());
    return e.exit_code();
  }
  if (opts.help) {
    if (world.rank() == 0) std::printf("%s", opts.help_text.c_str());
    return 0;
  }
  const std::string program = "digitnet-train: rank " + std::to_string(world.rank());
  try {
    return train_run(opts, world);
  } catch (const Error& e) {  // a failure of this rank alone, mid-run: end the job
    std::fprintf(stderr, "%s\n", error_line(program.c_str(), e, opts.verbose).c_str());
    if (world.size() > 1) world.abort(e.exit_code());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program.c_str(), e.what());
    if (world.size() > 1) world.abort(int(ErrorKind::runtime));
    return int(ErrorKind::runtime);
  }
}

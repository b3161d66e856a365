// digitnet-score: evaluates checkpoints on a labelled test set. No MPI needed.
#include <cstdio>

#include "digitnet/core/error.hpp"
#include "digitnet/score/score.hpp"

int main(int argc, char** argv) {
  try {
    const digitnet::ScoreOptions opts = digitnet::score_options_parse(argc, argv);
    if (opts.help) {
      std::printf("%s", opts.help_text.c_str());
      return 0;
    }
    return digitnet::score_run(opts);
  } catch (const digitnet::Error& e) {
    std::fprintf(stderr, "digitnet-score: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-score: internal error: %s\n", e.what());
    return int(digitnet::ErrorKind::runtime);
  }
}

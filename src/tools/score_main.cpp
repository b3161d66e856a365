// digitnet-score: evaluates checkpoints on a labelled test set, and recognises
// digits in image files. No MPI needed.
#include <cstdio>

#include "digitnet/core/error.hpp"
#include "digitnet/score/score.hpp"

int main(int argc, char** argv) {
  using namespace digitnet;
  ScoreOptions opts;
  try {
    opts = score_options_parse(argc, argv);
    if (opts.help) {
      std::printf("%s", opts.help_text.c_str());
      return 0;
    }
    return score_run(opts);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", error_line("digitnet-score", e, opts.verbose).c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-score: internal error: %s\n", e.what());
    return int(ErrorKind::runtime);
  }
}

// digitnet-score: evaluates checkpoints on a labelled test set, and recognises
// digits in image files. No MPI needed.
#include "digitnet/core/program.hpp"
#include "digitnet/score/score.hpp"

int main(int argc, char** argv) {
  return digitnet::program_main("digitnet-score", argc, argv, digitnet::score_options_parse, digitnet::score_run);
}

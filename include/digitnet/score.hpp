// The scorer: evaluates checkpoints on a labelled IDX test set. No MPI.
#pragma once
#include <string>
#include <vector>

namespace digitnet {

struct ScoreOptions {
  std::vector<std::string> checkpoints;  // files or directories (every ckpt-*.pb in it)
  std::string data_dir;
  std::string split = "t10k";  // files <split>-images-idx3-ubyte, <split>-labels-idx1-ubyte
  bool json = false;
  int threads = 0;  // 0 = all cores
  bool help = false;
  std::string help_text;
};

ScoreOptions score_options_parse(int argc, const char* const* argv);

// Scores every checkpoint; prints a table (or one JSON object) on stdout and a
// line per bad checkpoint on stderr. Returns 0, or the exit status of the worst failure.
int score_run(const ScoreOptions& opts);

}  // namespace digitnet

// The scorer: evaluates checkpoints on a labelled IDX test set, and recognises
// digits in image files (one digit per image, or a number with --read). No MPI.
#pragma once
#include <string>
#include <vector>

namespace digitnet {

struct ScoreOptions {
  std::vector<std::string> checkpoints;  // files or directories (every ckpt-*.pb in it)
  std::string data_dir;
  std::string split = "t10k";  // files <split>-images-idx3-ubyte, <split>-labels-idx1-ubyte
  bool json = false;
  bool csv = false;
  int threads = 0;  // 0 = all cores
  size_t misclassified = 64;  // how many misclassified samples --json lists, with their pixels
  std::string probabilities;  // CSV of every test image's class probabilities (one checkpoint only)

  // Image mode (--images): files, or directories (images in them are unlabelled,
  // images in sub-directories named 0, 1, ... carry that label).
  std::vector<std::string> images;
  double threshold = 0.8;       // top probability below this marks a prediction "uncertain"
  std::string preprocess = "auto";
  bool read_number = false;     // --read: several digits on one line
  bool show = false;            // text art of what the network saw
  std::string save_preprocessed;  // directory for the network's view as PNG
  bool verbose = false;  // errors also say where they come from (source file:line)
  bool help = false;
  std::string help_text;
};

ScoreOptions score_options_parse(int argc, const char* const* argv);

// Scores every checkpoint; prints a table (or one JSON object) on stdout and a
// line per bad checkpoint on stderr. Returns 0, or the exit status of the worst failure.
int score_run(const ScoreOptions& opts);

// Image mode of score_run: prints a table (or JSON / CSV) with one row per image
// and, when images carry labels, the test-set report. Returns 0, or 3 when some
// images could not be read (each named on stderr).
int score_images(const ScoreOptions& opts);

}  // namespace digitnet

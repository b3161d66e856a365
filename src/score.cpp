#include "digitnet/score.hpp"

#include <omp.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "digitnet/checkpoint.hpp"
#include "digitnet/data.hpp"
#include "digitnet/error.hpp"
#include "digitnet/model.hpp"

namespace po = boost::program_options;

namespace digitnet {

ScoreOptions score_options_parse(int argc, const char* const* argv) {
  ScoreOptions o;
  po::options_description visible("Usage: digitnet-score CHECKPOINT_OR_DIR... --data DIR [options]");
  visible.add_options()
      ("data", po::value(&o.data_dir), "directory with the labelled IDX test set")
      ("split", po::value(&o.split)->default_value(o.split), "which files of --data: <split>-images-idx3-ubyte and <split>-labels-idx1-ubyte (raw or .gz)")
      ("json", po::bool_switch(&o.json), "print one JSON object instead of tables")
      ("threads", po::value(&o.threads)->default_value(0), "threads (0 = all cores)")
      ("help,h", "show this help");
  po::options_description hidden;
  hidden.add_options()("checkpoint", po::value(&o.checkpoints)->composing(), "checkpoint files or directories");
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("checkpoint", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fail(ErrorKind::usage, e.what());
  }
  if (vm.count("help")) {
    std::ostringstream ss;
    ss << visible;
    o.help = true;
    o.help_text = ss.str();
    return o;
  }
  if (o.checkpoints.empty()) fail(ErrorKind::usage, "no checkpoint given (a ckpt-*.pb file or a directory of them)");
  if (o.data_dir.empty()) fail(ErrorKind::usage, "--data DIR is required (the labelled test set)");
  if (o.threads < 0) fail(ErrorKind::usage, "--threads must be 0 (all cores) or positive");
  return o;
}

namespace {

// Expands directories into their checkpoints, oldest first.
std::vector<std::string> expand(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) {
      const auto found = checkpoint_list(in);
      if (found.empty()) fail(ErrorKind::checkpoint, in + ": directory holds no ckpt-*.pb checkpoint");
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  return files;
}

nlohmann::json to_json(const std::string& path, const Snapshot& s, const EvalResult& r) {
  nlohmann::json j;
  j["checkpoint"] = path;
  j["model"] = s.shape.str();
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j["accuracy"] = r.accuracy();
  j["loss"] = r.loss();
  j["correct"] = r.correct;
  j["count"] = r.count;
  std::vector<double> precision, recall;
  std::vector<std::vector<uint64_t>> confusion;
  for (uint32_t c = 0; c < r.classes; ++c) {
    precision.push_back(r.precision(c));
    recall.push_back(r.recall(c));
    confusion.emplace_back(r.confusion.begin() + long(c) * r.classes, r.confusion.begin() + long(c + 1) * r.classes);
  }
  j["precision"] = precision;
  j["recall"] = recall;
  j["confusion"] = confusion;
  return j;
}

}  // namespace

int score_run(const ScoreOptions& opts) {
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  flush_denormals_to_zero();  // the same arithmetic as the trainer
  const std::vector<std::string> files = expand(opts.checkpoints);
  const Dataset test = dataset_load_split(opts.data_dir, opts.split);

  int status = 0;
  nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
  for (const auto& path : files) {
    try {
      const Snapshot s = checkpoint_load(path);
      if (s.rows != test.rows || s.cols != test.cols)
        fail(ErrorKind::checkpoint, path + ": model expects " + std::to_string(s.rows) + "x" + std::to_string(s.cols) +
                                        " images, the test set has " + std::to_string(test.rows) + "x" +
                                        std::to_string(test.cols));
      if (test.num_classes > s.shape.classes)
        fail(ErrorKind::checkpoint, path + ": model knows " + std::to_string(s.shape.classes) +
                                        " classes, the test labels go up to " + std::to_string(test.num_classes - 1));
      Mlp model(s.shape);
      model.params() = s.params;
      const EvalResult r = model.evaluate(test, s.input, Range{0, test.count});
      if (opts.json) {
        results.push_back(to_json(path, s, r));
      } else {
        std::printf("%s  (model %s, step %llu, epoch %llu)\n%s\n", path.c_str(), s.shape.str().c_str(),
                    (unsigned long long)s.step, (unsigned long long)s.epoch, eval_report(r).c_str());
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "digitnet-score: %s\n", e.what());
      errors.push_back({{"checkpoint", path}, {"error", e.what()}});
      status = std::max(status, e.exit_code());
    }
  }
  if (opts.json) {
    nlohmann::json out;
    out["data"] = opts.data_dir;
    out["split"] = opts.split;
    out["results"] = results;
    out["errors"] = errors;
    std::cout << out.dump(2) << std::endl;
  }
  return status;
}

}  // namespace digitnet

#include "digitnet/score/score.hpp"
#include "score_common.hpp"

#include <omp.h>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/command_line.hpp"
#include "digitnet/core/data.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/image/preprocess.hpp"

namespace po = boost::program_options;

namespace digitnet {

ScoreOptions score_options_parse(int argc, const char* const* argv) {
  ScoreOptions o;
  po::options_description visible(
      "Usage: digitnet-score CHECKPOINT_OR_DIR... --data DIR [options]     (a labelled IDX test set)\n"
      "       digitnet-score CHECKPOINT_OR_DIR --images PATH... [options]  (your own images)\n"
      "A directory of checkpoints means every checkpoint in it (--data) or the newest one (--images)");
  visible.add_options()
      ("data", po::value(&o.data_dir), "directory with the labelled IDX test set")
      ("split", po::value(&o.split)->default_value(o.split), "which files of --data: <split>-images-idx3-ubyte and <split>-labels-idx1-ubyte (raw or .gz)")
      ("images", po::value(&o.images)->multitoken(), "image files (PNG, JPEG, BMP, PGM/PPM, TIFF, GIF, WebP) or directories; images in sub-directories named 0, 1, ... are labelled and scored like a test set")
      ("threshold", po::value(&o.threshold)->default_value(o.threshold, "0.8"), "a prediction whose probability is below this is marked uncertain")
      ("preprocess", po::value(&o.preprocess)->default_value(o.preprocess), "auto: MNIST-style preprocessing unless an image already is network input (model size, light ink on black); full: always; none: never")
      ("read", po::bool_switch(&o.read_number), "each image holds several digits on one line: print the number")
      ("show", po::bool_switch(&o.show), "print what the network saw, as text art")
      ("save-preprocessed", po::value(&o.save_preprocessed), "write what the network saw as PNG files into this directory")
      ("json", po::bool_switch(&o.json), "print one JSON object instead of tables")
      ("csv", po::bool_switch(&o.csv), "print CSV instead of tables (--images)")
      ("probabilities", po::value(&o.probabilities), "write every test image's class probabilities to this CSV file (index,label,p0,p1,...; one checkpoint)")
      ("misclassified", po::value(&o.misclassified)->default_value(o.misclassified), "--json lists this many misclassified samples with their pixels")
      ("threads", po::value(&o.threads)->default_value(0), "threads (0 = all cores)")
      ("verbose", po::bool_switch(&o.verbose), "errors also say where they come from (source file:line)")
      ("help,h", "show this help");
  o.help = !command_line_parse(argc, argv, visible, po::value(&o.checkpoints)->composing(), -1, &o.help_text);
  if (o.help) return o;
  if (o.checkpoints.empty()) fail(ErrorKind::usage, "no checkpoint given (a ckpt-*.pb file or a directory of them)");
  if (o.images.empty() && o.data_dir.empty())
    fail(ErrorKind::usage, "--data DIR (a labelled IDX test set) or --images PATH... is required");
  if (!o.images.empty() && !o.data_dir.empty()) fail(ErrorKind::usage, "--data and --images cannot be combined");
  if (o.images.empty() && (o.read_number || o.show || o.csv || !o.save_preprocessed.empty()))
    fail(ErrorKind::usage, "--read, --show, --csv and --save-preprocessed work with --images");
  if (!o.images.empty() && !o.probabilities.empty()) fail(ErrorKind::usage, "--probabilities works with --data");
  if (o.json && o.csv) fail(ErrorKind::usage, "--json and --csv cannot be combined");
  if (!(o.threshold >= 0 && o.threshold <= 1)) fail(ErrorKind::usage, "--threshold must be between 0 and 1");
  preprocess_mode_parse(o.preprocess);
  if (o.threads < 0) fail(ErrorKind::usage, "--threads must be 0 (all cores) or positive");
  return o;
}

std::vector<std::string> score_checkpoint_files(const std::vector<std::string>& inputs) {
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

nlohmann::json score_eval_json(const EvalResult& r) {
  nlohmann::json j;
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

uint32_t score_argmax(const float* probs, uint32_t classes) {
  return uint32_t(std::max_element(probs, probs + classes) - probs);
}

nlohmann::json score_pixels_json(const uint8_t* pixels, size_t n) { return std::vector<int>(pixels, pixels + n); }

namespace {

nlohmann::json to_json(const std::string& path, const ModelCheckpoint& s, const EvalResult& r, const Dataset& test,
                       const std::vector<float>& probs, size_t max_misclassified) {
  nlohmann::json j;
  j["checkpoint"] = path;
  j["model"] = s.spec.shape.str();
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j.update(score_eval_json(r));
  // The misclassified samples with their pixels, for pictures (scripts/plot_results.py).
  j["rows"] = test.rows;
  j["cols"] = test.cols;
  nlohmann::json wrong = nlohmann::json::array();
  const uint32_t classes = s.spec.shape.classes;
  for (size_t i = 0; i < test.count && wrong.size() < max_misclassified; ++i) {
    const float* p = probs.data() + i * classes;
    const uint32_t predicted = score_argmax(p, classes);
    if (predicted == test.labels[i]) continue;
    wrong.push_back({{"index", i}, {"label", test.labels[i]}, {"predicted", predicted}, {"probability", p[predicted]},
                     {"pixels", score_pixels_json(test.image(i), test.features())}});
  }
  j["misclassified"] = wrong;
  return j;
}

}  // namespace

int score_run(const ScoreOptions& opts) {
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  flush_denormals_to_zero();  // the same arithmetic as the trainer
  if (!opts.images.empty()) return score_images(opts);
  const std::vector<std::string> files = score_checkpoint_files(opts.checkpoints);
  if (!opts.probabilities.empty() && files.size() != 1)
    fail(ErrorKind::usage, "--probabilities takes one checkpoint, got " + std::to_string(files.size()));
  const Dataset test = dataset_load_split(opts.data_dir, opts.split);

  int status = 0;
  nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
  for (const auto& path : files) {
    try {
      const ModelCheckpoint s = model_checkpoint_load(path);
      model_check_data(s.spec, test, path);
      Mlp model(s.spec.shape);
      model.params() = s.params;
      std::vector<float> probs;
      const EvalResult r = model.evaluate(test, s.spec.input, Range{0, test.count}, &probs);
      if (!opts.probabilities.empty()) score_probabilities_write(opts.probabilities, test, probs, s.spec.shape.classes);
      if (opts.json) {
        results.push_back(to_json(path, s, r, test, probs, opts.misclassified));
      } else {
        std::printf("%s  (model %s, step %llu, epoch %llu)\n%s\n", path.c_str(), s.spec.shape.str().c_str(),
                    (unsigned long long)s.step, (unsigned long long)s.epoch, eval_report(r).c_str());
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", error_line("digitnet-score", e, opts.verbose).c_str());
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

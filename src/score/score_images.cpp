// digitnet-score --images: recognises digits in the user's own image files.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/image/image.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/image/preprocess.hpp"
#include "digitnet/score/recognise.hpp"
#include "digitnet/score/score.hpp"
#include "score_common.hpp"

namespace digitnet {

namespace fs = std::filesystem;

namespace {

struct ImageFile {
  std::string path;
  int label = -1;  // from a sub-directory named by the class; -1 = unknown
};

// One image after preprocessing and prediction: one digit, or several with --read.
struct Recognised {
  ImageFile file;
  std::string error;  // non-empty: the image was refused
  std::vector<DigitImage> digits;
  std::vector<float> probs;  // (digits, classes)
};

bool is_class_name(const std::string& name, uint32_t classes) {
  if (name.empty() || name.size() > 6 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return uint32_t(std::stoul(name)) < classes && (name == "0" || name[0] != '0');
}

std::vector<std::string> image_files_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && image_has_known_extension(it->path().string())) out.push_back(it->path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Files are taken as given (a non-image is an error for that file); directories
// contribute their image files, and sub-directories named 0, 1, ... their labelled ones.
std::vector<ImageFile> collect(const std::vector<std::string>& inputs, uint32_t classes, std::vector<Recognised>& missing) {
  std::vector<ImageFile> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (!fs::exists(in, ec)) {
      Recognised r;
      r.file.path = in;
      r.error = "no such file or directory";
      missing.push_back(r);
      continue;
    }
    if (!fs::is_directory(in, ec)) {
      files.push_back({in, -1});
      continue;
    }
    for (const auto& f : image_files_in(in)) files.push_back({f, -1});
    std::vector<fs::path> subdirs;
    for (fs::directory_iterator it(in, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && is_class_name(it->path().filename().string(), classes)) subdirs.push_back(it->path());
    std::sort(subdirs.begin(), subdirs.end());
    for (const auto& sub : subdirs)
      for (const auto& f : image_files_in(sub)) files.push_back({f, std::stoi(sub.filename().string())});
  }
  return files;
}

nlohmann::json top_json(const float* probs, uint32_t classes) {
  nlohmann::json top = nlohmann::json::array();
  const auto order = recognise_ranked(probs, classes);
  for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k)
    top.push_back({{"class", order[k]}, {"probability", probs[order[k]]}});
  return top;
}

std::string top_text(const float* probs, uint32_t classes) {
  std::string out;
  const auto order = recognise_ranked(probs, classes);
  for (size_t k = 0; k < std::min<size_t>(3, order.size()); ++k) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%u %5.1f%%", k ? "  " : "", order[k], 100.0 * probs[order[k]]);
    out += buf;
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// What the network saw, as PNG files named after the input (numbered, so names never collide).
void save_preprocessed(const std::string& dir, size_t index, const Recognised& r) {
  const std::string stem = fs::path(r.file.path).stem().string();
  for (size_t d = 0; d < r.digits.size(); ++d) {
    char name[64];
    std::snprintf(name, sizeof name, "%05zu-", index);
    std::string file = name + stem;
    if (r.digits.size() > 1) file += "-" + std::to_string(d);
    image_write_png((fs::path(dir) / (file + ".png")).string(), r.digits[d].pixels);
  }
}

// What the network made of one image: its digits left to right, and how sure it is.
struct Reading {
  std::string number;         // the predicted digits
  std::string probabilities;  // "4 99% 0 100% ..."
  uint32_t first = 0;         // the (first) digit
  double lowest = 1;          // the least sure digit's probability
  bool uncertain = false;     // below --threshold
};

Reading reading_of(const Recognised& r, uint32_t classes, double threshold) {
  Reading out;
  for (size_t d = 0; d < r.digits.size(); ++d) {
    const float* p = r.probs.data() + d * classes;
    const uint32_t c = score_argmax(p, classes);
    if (d == 0) out.first = c;
    out.number += std::to_string(c);
    out.lowest = std::min(out.lowest, double(p[c]));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%u %.0f%%", d ? " " : "", c, 100.0 * p[c]);
    out.probabilities += buf;
  }
  out.uncertain = out.lowest < threshold;
  return out;
}

nlohmann::json digit_json(const DigitImage& di, const float* p, uint32_t classes) {
  const uint32_t c = score_argmax(p, classes);
  return {{"predicted", c}, {"probability", p[c]}, {"top", top_json(p, classes)}, {"x", di.x}, {"width", di.width},
          {"preprocessing", {{"passed_through", di.passed_through}, {"inverted", di.inverted},
                             {"stroke_width", di.stroke_width}, {"stroke_redrawn", di.stroke_redrawn},
                             {"blurred", di.blurred}}},
          {"pixels", score_pixels_json(di.pixels.pixels.data(), di.pixels.pixels.size())}};
}

// One entry of "images": a single digit's fields, or "number" and "digits" with --read.
nlohmann::json image_json(const Recognised& r, const Reading& reading, bool read_number, uint32_t classes) {
  nlohmann::json j = {{"file", r.file.path}, {"uncertain", reading.uncertain}};
  j["label"] = r.file.label >= 0 ? nlohmann::json(r.file.label) : nlohmann::json();
  if (!read_number) {
    j.update(digit_json(r.digits[0], r.probs.data(), classes));
    return j;
  }
  j["number"] = reading.number;
  j["digits"] = nlohmann::json::array();
  for (size_t d = 0; d < r.digits.size(); ++d) j["digits"].push_back(digit_json(r.digits[d], r.probs.data() + d * classes, classes));
  return j;
}

void print_header(bool csv, bool read_number) {
  if (csv)
    std::printf(read_number ? "file,number,probabilities,uncertain\n"
                            : "file,label,predicted,probability,uncertain,second,second_probability,third,third_probability\n");
  else if (read_number)
    std::printf("%-10s %6s  %-28s %s\n", "number", "prob", "digits (probability)", "file");
  else
    std::printf("%-5s %6s  %-34s %-5s %s\n", "digit", "prob", "top 3", "label", "file");
}

void print_csv_row(const Recognised& r, const Reading& reading, bool read_number, uint32_t classes) {
  if (read_number) {
    std::printf("%s,%s,%s,%d\n", csv_quote(r.file.path).c_str(), reading.number.c_str(), reading.probabilities.c_str(),
                int(reading.uncertain));
    return;
  }
  const float* p = r.probs.data();
  const auto order = recognise_ranked(p, classes);
  std::printf("%s,%s,%u,%.6f,%d,%u,%.6f,%u,%.6f\n", csv_quote(r.file.path).c_str(),
              r.file.label >= 0 ? std::to_string(r.file.label).c_str() : "", order[0], p[order[0]],
              int(reading.uncertain), order.size() > 1 ? order[1] : 0, order.size() > 1 ? p[order[1]] : 0.f,
              order.size() > 2 ? order[2] : 0, order.size() > 2 ? p[order[2]] : 0.f);
}

void print_table_row(const Recognised& r, const Reading& reading, bool read_number, uint32_t classes) {
  const char* mark = reading.uncertain ? "   (uncertain)" : "";
  if (read_number) {
    std::printf("%-10s %5.1f%%  %-28s %s%s\n", (reading.number + (reading.uncertain ? "?" : "")).c_str(),
                100 * reading.lowest, reading.probabilities.c_str(), r.file.path.c_str(), mark);
    return;
  }
  const int predicted = int(reading.first);
  const std::string label =
      r.file.label < 0 ? "" : std::to_string(r.file.label) + (predicted == r.file.label ? "" : " ✗");
  std::printf("%-5s %5.1f%%  %-34s %-5s %s%s\n", (std::to_string(predicted) + (reading.uncertain ? "?" : "")).c_str(),
              100.0 * reading.lowest, top_text(r.probs.data(), classes).c_str(), label.c_str(), r.file.path.c_str(), mark);
}

// What the per-image output gathers for the summary (the JSON arrays only with --json).
struct Tally {
  int status = 0;
  size_t uncertain = 0, ok = 0;
  nlohmann::json images = nlohmann::json::array(), errors = nlohmann::json::array(), wrong = nlohmann::json::array();
};

// The steps of score_images, in its order; defined after it.
void create_output_directory(const std::string& dir);
std::vector<Recognised> recognise_all(const std::vector<ImageFile>& files, const PreprocessOptions& pre,
                                      bool read_number);
void predict_all(const ModelCheckpoint& snap, std::vector<Recognised>& all);
EvalResult labelled_eval(const std::vector<Recognised>& all, uint32_t classes, bool read_number);
Tally report_images(const std::vector<Recognised>& all, const ScoreOptions& opts, uint32_t classes);
void print_summary(const ScoreOptions& opts, const std::string& ckpt, const ModelCheckpoint& snap, const EvalResult& eval,
                   const Tally& tally, size_t total);

}  // namespace

int score_images(const ScoreOptions& opts) {
  if (opts.checkpoints.size() != 1)
    fail(ErrorKind::usage, "--images takes one checkpoint (a file, or a directory: its newest checkpoint)");
  const std::string ckpt = recognise_checkpoint_file(opts.checkpoints[0]);
  const ModelCheckpoint snap = model_checkpoint_load(ckpt);
  const uint32_t classes = snap.spec.shape.classes;
  const PreprocessOptions pre = recognise_preprocess_options(snap.spec, opts.preprocess);
  create_output_directory(opts.save_preprocessed);

  std::vector<Recognised> failed_early;
  const std::vector<ImageFile> files = collect(opts.images, classes, failed_early);
  std::vector<Recognised> all = recognise_all(files, pre, opts.read_number);
  all.insert(all.begin(), failed_early.begin(), failed_early.end());
  predict_all(snap, all);
  const EvalResult eval = labelled_eval(all, classes, opts.read_number);

  const Tally tally = report_images(all, opts, classes);
  print_summary(opts, ckpt, snap, eval, tally, all.size());
  return tally.status;
}

namespace {

// --save-preprocessed: its directory exists before any image is read.
void create_output_directory(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorKind::usage, "--save-preprocessed " + dir + ": " + ec.message());
}

// Decodes and preprocesses one image; what goes wrong is its error, without the file name.
Recognised recognise(const ImageFile& file, const PreprocessOptions& pre, bool read_number) {
  Recognised r;
  r.file = file;
  try {
    r.digits = recognise_preprocess(image_read(file.path), pre, read_number);
  } catch (const Error& e) {
    const std::string what = e.what();
    r.error = what.rfind(file.path + ": ", 0) == 0 ? what.substr(file.path.size() + 2) : what;
  } catch (const std::exception& e) {
    r.error = std::string("cannot process: ") + e.what();
  }
  return r;
}

// Decoding and preprocessing are independent per image; a bad image only fails itself.
std::vector<Recognised> recognise_all(const std::vector<ImageFile>& files, const PreprocessOptions& pre,
                                      bool read_number) {
  std::vector<Recognised> all(files.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < files.size(); ++i) all[i] = recognise(files[i], pre, read_number);
  return all;
}

// One batch through the network: every digit of every image. Each image gets its
// digits' probabilities.
void predict_all(const ModelCheckpoint& snap, std::vector<Recognised>& all) {
  const uint32_t classes = snap.spec.shape.classes;
  std::vector<const GrayImage*> views;
  for (const auto& r : all)
    for (const auto& d : r.digits) views.push_back(&d.pixels);
  Mlp model(snap.spec.shape);
  model.params() = snap.params;
  const std::vector<float> probs = recognise_predict(model, snap.spec, views);
  size_t next = 0;
  for (auto& r : all) {
    r.probs.assign(probs.begin() + long(next * classes), probs.begin() + long((next + r.digits.size()) * classes));
    next += r.digits.size();
  }
}

// Labelled images (single-digit mode) are a test set.
EvalResult labelled_eval(const std::vector<Recognised>& all, uint32_t classes, bool read_number) {
  EvalResult eval(classes);
  for (const auto& r : all)
    if (!read_number && r.error.empty() && r.file.label >= 0) {
      const int32_t label = r.file.label;
      eval.add(r.probs.data(), &label, 1);
    }
  return eval;
}

// A refused image: one line on stderr, an entry of "errors", exit status data.
void report_refused(const Recognised& r, Tally& tally) {
  std::fprintf(stderr, "digitnet-score: %s: %s\n", r.file.path.c_str(), r.error.c_str());
  tally.errors.push_back({{"file", r.file.path}, {"error", r.error}});
  tally.status = int(ErrorKind::data);
}

// --json: the image's entry, and one in "misclassified" while there is room.
void add_image_json(const Recognised& r, const Reading& reading, const ScoreOptions& opts, uint32_t classes,
                    Tally& tally) {
  tally.images.push_back(image_json(r, reading, opts.read_number, classes));
  const bool misread = !opts.read_number && r.file.label >= 0 && int(reading.first) != r.file.label;
  if (misread && tally.wrong.size() < opts.misclassified)
    tally.wrong.push_back({{"file", r.file.path}, {"label", r.file.label}, {"predicted", reading.first},
                           {"probability", reading.lowest}, {"pixels", tally.images.back()["pixels"]}});
}

// Every image in order: refused on stderr; read as a table row, a CSV row or a JSON entry.
Tally report_images(const std::vector<Recognised>& all, const ScoreOptions& opts, uint32_t classes) {
  Tally tally;
  if (!opts.json) print_header(opts.csv, opts.read_number);
  FILE* art = opts.json || opts.csv ? stderr : stdout;
  for (size_t i = 0; i < all.size(); ++i) {
    const Recognised& r = all[i];
    if (!r.error.empty()) {
      report_refused(r, tally);
      continue;
    }
    ++tally.ok;
    if (!opts.save_preprocessed.empty()) save_preprocessed(opts.save_preprocessed, i, r);
    const Reading reading = reading_of(r, classes, opts.threshold);
    tally.uncertain += reading.uncertain;
    if (opts.json)
      add_image_json(r, reading, opts, classes, tally);
    else if (opts.csv)
      print_csv_row(r, reading, opts.read_number, classes);
    else
      print_table_row(r, reading, opts.read_number, classes);
    if (opts.show)
      for (const auto& d : r.digits) std::fprintf(art, "%s\n", image_text_art(d.pixels).c_str());
  }
  return tally;
}

// The closing output: with --json the whole result as one object; as a table, the
// counts and the labelled images' scores (a CSV has none).
void print_summary(const ScoreOptions& opts, const std::string& ckpt, const ModelCheckpoint& snap, const EvalResult& eval,
                   const Tally& tally, size_t total) {
  if (opts.json) {
    nlohmann::json result = {{"checkpoint", ckpt}, {"model", snap.spec.shape.str()}, {"step", snap.step},
                             {"epoch", snap.epoch}, {"threshold", opts.threshold}, {"rows", snap.spec.rows},
                             {"cols", snap.spec.cols}, {"read", opts.read_number}, {"images", tally.images}};
    if (eval.count > 0) {
      result.update(score_eval_json(eval));
      result["misclassified"] = tally.wrong;
    }
    nlohmann::json out = {{"images_from", opts.images}, {"results", nlohmann::json::array({result})},
                          {"errors", tally.errors}};
    std::cout << out.dump(2) << std::endl;
  } else if (!opts.csv) {
    std::printf("\n%zu image(s) read, %zu uncertain (probability below %.2f), %zu refused\n", tally.ok,
                tally.uncertain, opts.threshold, total - tally.ok);
    if (eval.count > 0)
      std::printf("labelled images (sub-directories named by class):\n%s", eval_report(eval).c_str());
  }
}

}  // namespace

}  // namespace digitnet

#include "digitnet/serve/predictor.hpp"

#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "digitnet/image/image.hpp"
#include "digitnet/score/recognise.hpp"

namespace digitnet {

namespace {

// Each request runs on one thread (requests run side by side instead), with the
// scorer's arithmetic: denormals flushed to zero.
void prepare_thread() {
  thread_local bool prepared = false;
  if (prepared) return;
  omp_set_num_threads(1);
  flush_denormals_to_zero();
  prepared = true;
}

nlohmann::json describe(const std::string& path, const ModelCheckpoint& snap) {
  nlohmann::json j = {{"checkpoint", path},  {"model", snap.spec.shape.str()}, {"rows", snap.spec.rows},
                      {"cols", snap.spec.cols}, {"classes", snap.spec.shape.classes}, {"step", snap.step},
                      {"epoch", snap.epoch}};
  const bool measured = !std::isnan(snap.test_accuracy);
  j["test_accuracy"] = measured ? nlohmann::json(snap.test_accuracy) : nlohmann::json();
  j["test_accuracy_step"] = measured ? nlohmann::json(snap.test_accuracy_step) : nlohmann::json();
  return j;
}

// A large image leaves its decoder's freed memory in this thread's malloc arena,
// and every request thread has its own: handed back at once, it cannot pile up.
struct TrimAfterLargeImage {
  int64_t pixels = 0;
  ~TrimAfterLargeImage() {
    if (pixels > kLargeImagePixels) malloc_trim(0);
  }
  static constexpr int64_t kLargeImagePixels = 4'000'000;
};

}  // namespace

Predictor::Predictor(const std::string& checkpoint_or_dir, const std::string& preprocess, double threshold,
                     int threads)
    : checkpoint_(recognise_checkpoint_file(checkpoint_or_dir)),
      snap_(model_checkpoint_load(checkpoint_)),
      pre_(recognise_preprocess_options(snap_.spec, preprocess)),
      threshold_(threshold),
      model_json_(describe(checkpoint_, snap_)) {
  for (int i = 0; i < threads; ++i) {
    idle_.push_back(std::make_unique<Mlp>(snap_.spec.shape));
    idle_.back()->params() = snap_.params;
  }
}

std::unique_ptr<Mlp> Predictor::take_model() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty(); });
  std::unique_ptr<Mlp> model = std::move(idle_.back());
  idle_.pop_back();
  return model;
}

void Predictor::give_back(std::unique_ptr<Mlp> model) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(model));
  }
  returned_.notify_one();
}

nlohmann::json Predictor::digit_json(const DigitImage& digit, const float* probs) const {
  const uint32_t classes = snap_.spec.shape.classes;
  const std::vector<uint32_t> order = recognise_ranked(probs, classes);
  nlohmann::json top = nlohmann::json::array();
  for (uint32_t c : order) top.push_back({c, probs[c]});
  return {{"digit", order[0]},
          {"probability", probs[order[0]]},
          {"top", top},
          {"uncertain", probs[order[0]] < threshold_},
          {"x", digit.x},
          {"width", digit.width},
          {"pixels", digit.pixels.pixels}};
}

nlohmann::json Predictor::predict(const std::string& bytes, bool read_number) {
  // A model is taken before decoding, so that `threads` also bounds the memory
  // that decoding and preprocessing take.
  struct Lease {
    Predictor& owner;
    std::unique_ptr<Mlp> model;
    ~Lease() { owner.give_back(std::move(model)); }
  } lease{*this, take_model()};
  prepare_thread();
  TrimAfterLargeImage trim;  // declared before the image: runs after it is freed
  GrayImage image;
  try {
    image = image_decode(bytes, "image");
  } catch (...) {
    trim.pixels = TrimAfterLargeImage::kLargeImagePixels + 1;  // how much it took before failing is unknown
    throw;
  }
  trim.pixels = int64_t(image.width) * image.height;
  const std::vector<DigitImage> digits = recognise_preprocess(image, pre_, read_number);
  std::vector<const GrayImage*> views;
  for (const auto& d : digits) views.push_back(&d.pixels);
  const std::vector<float> probs = recognise_predict(*lease.model, snap_.spec, views);

  const uint32_t classes = snap_.spec.shape.classes;
  if (!read_number) return digit_json(digits[0], probs.data());
  nlohmann::json answer = {{"number", ""}, {"probability", 1.0}, {"uncertain", false}, {"digits", nlohmann::json::array()}};
  std::string number;
  float lowest = 1;
  for (size_t d = 0; d < digits.size(); ++d) {
    nlohmann::json one = digit_json(digits[d], probs.data() + d * classes);
    number += std::to_string(one["digit"].get<uint32_t>());
    lowest = std::min(lowest, one["probability"].get<float>());
    answer["digits"].push_back(std::move(one));
  }
  answer["number"] = number;
  answer["probability"] = lowest;
  answer["uncertain"] = lowest < threshold_;
  return answer;
}

}  // namespace digitnet

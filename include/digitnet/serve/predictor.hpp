// The model behind digitnet-serve: reads an uploaded image the way
// digitnet-score --images reads a file (score/recognise.hpp), and answers in JSON.
// Thread-safe: at most `threads` images are decoded and read at once.
#pragma once
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/image/preprocess.hpp"

namespace digitnet {

class Predictor {
 public:
  Predictor(const std::string& checkpoint_or_dir, const std::string& preprocess, double threshold, int threads);

  // The answer of POST /api/predict for an image's bytes: "digit", "probability",
  // "top" (every class, most likely first), "uncertain", "pixels" (what the network
  // saw); with read_number "number" and one such entry per digit in "digits".
  // Throws Error(data) when the bytes are not an image or hold no digit.
  nlohmann::json predict(const std::string& bytes, bool read_number);

  // GET /api/model: the checkpoint, its shape, step and recorded test accuracy.
  const nlohmann::json& model_json() const { return model_json_; }
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  std::unique_ptr<Mlp> take_model();
  void give_back(std::unique_ptr<Mlp> model);
  nlohmann::json digit_json(const DigitImage& digit, const float* probs) const;

  std::string checkpoint_;
  ModelCheckpoint snap_;
  PreprocessOptions pre_;
  double threshold_;
  nlohmann::json model_json_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Mlp>> idle_;  // one model per thread: Mlp is not thread-safe
};

}  // namespace digitnet

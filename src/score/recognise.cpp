#include "digitnet/score/recognise.hpp"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "digitnet/core/error.hpp"

namespace digitnet {

std::string recognise_checkpoint_file(const std::string& file_or_dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(file_or_dir, ec)) return file_or_dir;
  const auto found = checkpoint_list(file_or_dir);
  if (found.empty()) fail(ErrorKind::checkpoint, file_or_dir + ": directory holds no ckpt-*.pb checkpoint");
  return found.back();
}

PreprocessOptions recognise_preprocess_options(const ModelSpec& spec, const std::string& mode) {
  PreprocessOptions pre;
  pre.rows = int(spec.rows);
  pre.cols = int(spec.cols);
  pre.mode = preprocess_mode_parse(mode);
  return pre;
}

std::vector<DigitImage> recognise_preprocess(const GrayImage& img, const PreprocessOptions& pre, bool read_number) {
  if (read_number) return preprocess_number(img, pre);
  return {preprocess_digit(img, pre)};
}

std::vector<float> recognise_predict(Mlp& model, const ModelSpec& spec, const std::vector<const GrayImage*>& views) {
  Dataset batch;
  batch.rows = spec.rows;
  batch.cols = spec.cols;
  batch.num_classes = spec.shape.classes;
  for (const GrayImage* view : views) batch.images.insert(batch.images.end(), view->pixels.begin(), view->pixels.end());
  batch.count = views.size();
  batch.labels.assign(batch.count, 0);  // unused: prediction reads no labels
  return model.predict_dataset(batch, spec.input, Range{0, batch.count});
}

std::vector<uint32_t> recognise_ranked(const float* probs, uint32_t classes) {
  std::vector<uint32_t> order(classes);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return probs[a] > probs[b]; });
  return order;
}

}  // namespace digitnet

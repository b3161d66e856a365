// Classification metrics: accuracy, mean loss, confusion matrix, precision/recall.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

struct EvalResult {
  uint32_t classes = 0;
  uint64_t count = 0, correct = 0;
  double loss_sum = 0;
  std::vector<uint64_t> confusion;  // (classes, classes), rows = true class

  explicit EvalResult(uint32_t num_classes = 0)
      : classes(num_classes), confusion(size_t(num_classes) * num_classes, 0) {}
  // probs (n, classes): adds the loss, the hits and the confusion counts of n samples.
  void add(const float* probs, const int32_t* labels, size_t n);
  double accuracy() const { return count ? double(correct) / double(count) : 0.0; }
  double loss() const { return count ? loss_sum / double(count) : 0.0; }
  double precision(uint32_t c) const;
  double recall(uint32_t c) const;
};

// Human-readable report: accuracy, loss, per-class precision/recall, confusion matrix.
std::string eval_report(const EvalResult& r);

}  // namespace digitnet

#include "digitnet/core/eval.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace digitnet {

void EvalResult::add(const float* probs, const int32_t* labels, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float* p = probs + i * classes;
    const uint32_t pred = uint32_t(std::max_element(p, p + classes) - p);
    const uint32_t y = uint32_t(labels[i]);
    loss_sum += -std::log(std::max(double(p[y]), 1e-30));
    correct += (pred == y);
    ++confusion[size_t(y) * classes + pred];
  }
  count += n;
}

double EvalResult::precision(uint32_t c) const {
  uint64_t predicted = 0;
  for (uint32_t t = 0; t < classes; ++t) predicted += confusion[size_t(t) * classes + c];
  return predicted ? double(confusion[size_t(c) * classes + c]) / double(predicted) : 0.0;
}

double EvalResult::recall(uint32_t c) const {
  uint64_t actual = 0;
  for (uint32_t p = 0; p < classes; ++p) actual += confusion[size_t(c) * classes + p];
  return actual ? double(confusion[size_t(c) * classes + c]) / double(actual) : 0.0;
}

std::string eval_report(const EvalResult& r) {
  std::string out;
  char line[256];
  // Binomial standard error tells the reader how much the last digit means.
  const double acc = r.accuracy();
  const double se = r.count ? std::sqrt(acc * (1 - acc) / double(r.count)) : 0.0;
  std::snprintf(line, sizeof line, "  accuracy %.2f%% ± %.2f%% (%llu/%llu)   mean loss %.4f\n", 100 * acc,
                100 * se, (unsigned long long)r.correct, (unsigned long long)r.count, r.loss());
  out += line;
  out += "  class  precision  recall  | confusion (rows: true class, columns: predicted)\n";
  for (uint32_t c = 0; c < r.classes; ++c) {
    std::snprintf(line, sizeof line, "  %5u  %8.2f%%  %6.2f%% |", c, 100 * r.precision(c), 100 * r.recall(c));
    out += line;
    for (uint32_t p = 0; p < r.classes; ++p) {
      std::snprintf(line, sizeof line, " %5llu", (unsigned long long)r.confusion[size_t(c) * r.classes + p]);
      out += line;
    }
    out += "\n";
  }
  return out;
}

}  // namespace digitnet

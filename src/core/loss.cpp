#include "digitnet/core/loss.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace digitnet {

// logits (B, C), labels (B) -> Σ loss; diff_logits (B, C) = scale * (p - target),
// target = (1 - smoothing) onehot + smoothing / C.
double softmax_xent(const float* logits, const int32_t* labels, size_t batch, size_t classes, float scale,
                    float* diff_logits, float* probs, uint64_t* correct, float smoothing) {
  const float off = smoothing / float(classes), on = 1.f - smoothing + off;
  double loss = 0.0;
  uint64_t hits = 0;
  std::vector<float> p(classes);
  for (size_t b = 0; b < batch; ++b) {
    const float* z = logits + b * classes;
    // Subtract the max for stability; log-sum-exp in double for an exact-enough loss.
    const size_t argmax = size_t(std::max_element(z, z + classes) - z);
    const float zmax = z[argmax];
    double sum = 0.0;
    for (size_t c = 0; c < classes; ++c) {
      p[c] = std::exp(z[c] - zmax);
      sum += p[c];
    }
    const float inv = float(1.0 / sum);
    for (size_t c = 0; c < classes; ++c) p[c] *= inv;
    if (probs) std::copy(p.begin(), p.end(), probs + b * classes);
    if (!labels) continue;
    const size_t y = size_t(labels[b]);
    const double log_sum = std::log(sum);
    loss += (1.0 - smoothing) * (log_sum - double(z[y] - zmax));
    if (smoothing > 0) {  // the uniform part of the target: mean of -log p_c over classes
      double all = 0;
      for (size_t c = 0; c < classes; ++c) all += log_sum - double(z[c] - zmax);
      loss += smoothing * all / double(classes);
    }
    hits += (argmax == y);
    if (diff_logits) {
      float* d = diff_logits + b * classes;
      for (size_t c = 0; c < classes; ++c) d[c] = scale * (p[c] - (c == y ? on : off));
    }
  }
  if (correct) *correct += hits;
  return loss;
}

}  // namespace digitnet

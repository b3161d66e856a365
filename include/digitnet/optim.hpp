// Adam (Kingma & Ba 2015), applied identically on every rank.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

struct AdamState {
  uint64_t step = 0;            // updates taken so far
  std::vector<float> m, v;      // first and second moment, one per parameter
  void reset(size_t n) { step = 0; m.assign(n, 0.f); v.assign(n, 0.f); }
};

// Learning-rate schedules. The rate is a pure function of the step, so a resumed
// run continues on exactly the same curve.
enum class LrSchedule {
  constant,  // lr at every step
  cosine,    // lr * (1 + cos(pi * step / total)) / 2: from lr down to 0 at the planned end
};
LrSchedule lr_schedule_parse(const std::string& name);  // throws Error(usage)
std::string lr_schedule_name(LrSchedule schedule);
// Learning rate of update `step` (0-based) of `total` planned updates.
double lr_at(LrSchedule schedule, double lr, uint64_t step, uint64_t total);

// One update of params (n) with grads (n): step += 1, then
// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
// p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps).
void adam_step(const AdamConfig& cfg, AdamState& state, float* params, const float* grads, size_t n);

}  // namespace digitnet

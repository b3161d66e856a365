#include "digitnet/optim.hpp"

#include <algorithm>
#include <cmath>

#include "digitnet/error.hpp"

namespace digitnet {

LrSchedule lr_schedule_parse(const std::string& name) {
  if (name == "constant") return LrSchedule::constant;
  if (name == "cosine") return LrSchedule::cosine;
  fail(ErrorKind::usage, "--lr-schedule " + name + ": expected constant or cosine");
}

std::string lr_schedule_name(LrSchedule schedule) {
  return schedule == LrSchedule::cosine ? "cosine" : "constant";
}

double lr_at(LrSchedule schedule, double lr, uint64_t step, uint64_t total) {
  if (schedule == LrSchedule::constant || total == 0) return lr;
  const double progress = std::min(1.0, double(step) / double(total));
  return lr * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
}

void adam_step(const AdamConfig& cfg, AdamState& s, float* params, const float* grads, size_t n) {
  s.step += 1;
  // Bias corrections in double, folded into one step size and one epsilon:
  // p -= lr * m̂ / (sqrt(v̂) + eps) with m̂ = m / c1, v̂ = v / c2.
  const double c1 = 1.0 - std::pow(cfg.beta1, double(s.step));
  const double c2 = 1.0 - std::pow(cfg.beta2, double(s.step));
  const float step_size = float(cfg.lr / c1);
  const float inv_sqrt_c2 = float(1.0 / std::sqrt(c2));
  // 1 - beta in double, then rounded: float(0.999) is 0.99900001, and 1 minus
  // that would be off by 1.3e-5 relative from the 1 - beta2 of the bias correction.
  const float b1 = float(cfg.beta1), b2 = float(cfg.beta2), eps = float(cfg.eps);
  const float one_minus_b1 = float(1.0 - cfg.beta1), one_minus_b2 = float(1.0 - cfg.beta2);
  float* m = s.m.data();
  float* v = s.v.data();
  // Element-wise and order-independent: threads cannot change the result.
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = b1 * m[i] + one_minus_b1 * g;
    v[i] = b2 * v[i] + one_minus_b2 * g * g;
    params[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
  }
}

}  // namespace digitnet

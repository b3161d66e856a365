#include "digitnet/core/optim.hpp"

#include <algorithm>
#include <cmath>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// The update of one contiguous range; decay_factor 1 leaves p * 1 = p exactly.
void adam_range(float* p, const float* g, float* m, float* v, size_t n, float b1, float b2, float one_minus_b1,
                float one_minus_b2, float step_size, float inv_sqrt_c2, float eps, float decay_factor) {
  // Element-wise and order-independent: threads cannot change the result.
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    m[i] = b1 * m[i] + one_minus_b1 * gi;
    v[i] = b2 * v[i] + one_minus_b2 * gi * gi;
    p[i] = p[i] * decay_factor - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
  }
}

}  // namespace

void adam_step(const AdamConfig& cfg, AdamState& s, float* params, const float* grads, size_t n,
               const DecayRanges& decayed) {
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
  const float decay = float(1.0 - cfg.lr * cfg.weight_decay);
  auto run = [&](size_t begin, size_t end, float factor) {
    if (end > begin)
      adam_range(params + begin, grads + begin, s.m.data() + begin, s.v.data() + begin, end - begin, b1, b2,
                 one_minus_b1, one_minus_b2, step_size, inv_sqrt_c2, eps, factor);
  };
  if (cfg.weight_decay == 0 || decayed.empty()) {
    run(0, n, 1.f);
    return;
  }
  // Decayed ranges in order, the gaps between them undecayed.
  DecayRanges ranges = decayed;
  std::sort(ranges.begin(), ranges.end());
  size_t at = 0;
  for (const auto& r : ranges) {
    const size_t begin = std::clamp(r.first, at, n), end = std::clamp(r.second, begin, n);
    run(at, begin, 1.f);
    run(begin, end, decay);
    at = end;
  }
  run(at, n, 1.f);
}

void adam_state_to_proto(const AdamState& s, OptimizerState* msg) {
  msg->set_step(s.step);
  msg->mutable_m()->Add(s.m.begin(), s.m.end());
  msg->mutable_v()->Add(s.v.begin(), s.v.end());
}

AdamState adam_state_from_proto(const OptimizerState& msg, size_t num_params, const std::string& name) {
  AdamState s;
  s.step = msg.step();
  if (msg.m_size() == 0 && msg.v_size() == 0) return s;
  if (size_t(msg.m_size()) != num_params || size_t(msg.v_size()) != num_params)
    fail(ErrorKind::checkpoint, name + ": Adam moments do not match the number of parameters");
  s.m.assign(msg.m().begin(), msg.m().end());
  s.v.assign(msg.v().begin(), msg.v().end());
  return s;
}

LrSchedule lr_schedule_parse(const std::string& name) {
  if (name == "constant") return LrSchedule::constant;
  if (name == "cosine") return LrSchedule::cosine;
  if (name == "step") return LrSchedule::step;
  fail(ErrorKind::usage, "--lr-schedule " + name + ": expected constant, cosine or step");
}

std::string lr_schedule_name(LrSchedule schedule) {
  switch (schedule) {
    case LrSchedule::cosine: return "cosine";
    case LrSchedule::step: return "step";
    default: return "constant";
  }
}

double lr_at(const LrPlan& plan, uint64_t step) {
  if (step < plan.warmup_steps) return plan.lr * double(step + 1) / double(plan.warmup_steps);
  switch (plan.schedule) {
    case LrSchedule::cosine: {
      if (plan.total_steps <= plan.warmup_steps) return plan.lr;
      const double progress =
          std::min(1.0, double(step - plan.warmup_steps) / double(plan.total_steps - plan.warmup_steps));
      return plan.lr * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
    }
    case LrSchedule::step:
      return plan.step_every ? plan.lr * std::pow(plan.gamma, double(step / plan.step_every)) : plan.lr;
    default:
      return plan.lr;
  }
}

double global_norm(const float* g, size_t n) {
  constexpr size_t kBlock = 4096;
  const size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks);
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < blocks; ++b) {
    double sum = 0;
    for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) sum += double(g[i]) * g[i];
    partial[b] = sum;
  }
  double total = 0;
  for (double p : partial) total += p;
  return std::sqrt(total);
}

double clip_by_global_norm(float* g, size_t n, double max_norm) {
  const double norm = global_norm(g, n);
  if (max_norm > 0 && norm > max_norm) {
    const float factor = float(max_norm / norm);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; ++i) g[i] *= factor;
  }
  return norm;
}

}  // namespace digitnet

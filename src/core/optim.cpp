#include "digitnet/core/optim.hpp"

#include <algorithm>
#include <cmath>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// The constants of one update, folded once per step.
struct AdamConstants {
  float b1, b2, one_minus_b1, one_minus_b2, step_size, inv_sqrt_c2, eps, decay;
};

AdamConstants adam_constants(const AdamConfig& cfg, uint64_t step) {
  // Bias corrections in double, folded into one step size and one epsilon:
  // p -= lr * m̂ / (sqrt(v̂) + eps) with m̂ = m / c1, v̂ = v / c2.
  const double c1 = 1.0 - std::pow(cfg.beta1, double(step));
  const double c2 = 1.0 - std::pow(cfg.beta2, double(step));
  // 1 - beta in double, then rounded: float(0.999) is 0.99900001, and 1 minus
  // that would be off by 1.3e-5 relative from the 1 - beta2 of the bias correction.
  return {float(cfg.beta1),         float(cfg.beta2), float(1.0 - cfg.beta1), float(1.0 - cfg.beta2),
          float(cfg.lr / c1),       float(1.0 / std::sqrt(c2)), float(cfg.eps), float(1.0 - cfg.lr * cfg.weight_decay)};
}

// One pass over p, g, m and v. Compiled for AVX-512, AVX2 and plain x86-64, the
// CPU picks at load time (GCC function multiversioning). The file is built with
// -ffp-contract=off, so no clone fuses a multiply-add the others round twice:
// every clone gives the same bits, and a sharded step equals a replicated one.
__attribute__((target_clones("avx512f", "avx2", "default"))) void adam_kernel(
    float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, size_t n,
    const AdamConstants& k, float decay_factor) {
  const AdamConstants c = k;
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = c.b1 * m[i] + c.one_minus_b1 * gi;
    const float vi = c.b2 * v[i] + c.one_minus_b2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay_factor - c.step_size * mi / (std::sqrt(vi) * c.inv_sqrt_c2 + c.eps);
  }
}

// The update of one contiguous range, split across the OpenMP threads in
// cache-line-aligned pieces; decay_factor 1 leaves p * 1 = p exactly.
void adam_range(float* p, const float* g, float* m, float* v, size_t n, const AdamConstants& k, float decay_factor) {
  constexpr size_t kPiece = 16384;  // floats: large enough to amortise the call, small enough to share out
  const size_t pieces = (n + kPiece - 1) / kPiece;
#pragma omp parallel for schedule(static) if (pieces > 1)
  for (size_t i = 0; i < pieces; ++i) {
    const size_t begin = i * kPiece, len = std::min(kPiece, n - begin);
    adam_kernel(p + begin, g + begin, m + begin, v + begin, len, k, decay_factor);
  }
}

}  // namespace

const char* adam_kernel_isa() {
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "x86-64";
}

void adam_update_slice(const AdamConfig& cfg, uint64_t step, float* p, const float* g, float* m, float* v,
                       size_t first, size_t n, const DecayRanges& decayed) {
  const AdamConstants k = adam_constants(cfg, step);
  const size_t last = first + n;
  auto run = [&](size_t begin, size_t end, float factor) {  // global indices
    if (end > begin) adam_range(p + (begin - first), g + (begin - first), m + (begin - first), v + (begin - first),
                                end - begin, k, factor);
  };
  if (cfg.weight_decay == 0 || decayed.empty()) {
    run(first, last, 1.f);
    return;
  }
  // Decayed ranges in order, the gaps between them undecayed.
  DecayRanges ranges = decayed;
  std::sort(ranges.begin(), ranges.end());
  size_t at = first;
  for (const auto& r : ranges) {
    const size_t begin = std::clamp(r.first, at, last), end = std::clamp(r.second, begin, last);
    run(at, begin, 1.f);
    run(begin, end, k.decay);
    at = end;
  }
  run(at, last, 1.f);
}

void adam_step(const AdamConfig& cfg, AdamState& s, float* params, const float* grads, size_t n,
               const DecayRanges& decayed) {
  s.step += 1;
  adam_update_slice(cfg, s.step, params, grads, s.m.data(), s.v.data(), 0, n, decayed);
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

double sum_of_squares(const float* g, size_t n) {
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
  return total;
}

double global_norm(const float* g, size_t n) { return std::sqrt(sum_of_squares(g, n)); }

void scale_in_place(float* g, size_t n, float factor) {
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; ++i) g[i] *= factor;
}

double clip_by_global_norm(float* g, size_t n, double max_norm) {
  const double norm = global_norm(g, n);
  if (max_norm > 0 && norm > max_norm) {
    scale_in_place(g, n, float(max_norm / norm));
  }
  return norm;
}

}  // namespace digitnet

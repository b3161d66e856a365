// Adam / AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), learning-rate
// schedules and gradient clipping, applied identically on every rank.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace digitnet {

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;  // decoupled (AdamW): p *= 1 - lr * weight_decay, on decayed ranges only
};

struct AdamState {
  uint64_t step = 0;            // updates taken so far
  std::vector<float> m, v;      // first and second moment, one per parameter
  void reset(size_t n) { step = 0; m.assign(n, 0.f); v.assign(n, 0.f); }
};

class OptimizerState;  // proto/digitnet/checkpoint.proto
// The moments and step count in the checkpoint (the settings are the recipe's).
void adam_state_to_proto(const AdamState& state, OptimizerState* msg);
// Moments are either absent (a model-only checkpoint: m and v empty) or one per
// parameter; anything else is refused naming `name`.
AdamState adam_state_from_proto(const OptimizerState& msg, size_t num_params, const std::string& name);

// Parameter index ranges [first, second) that take weight decay (weights, not biases).
using DecayRanges = std::vector<std::pair<size_t, size_t>>;

// One update of params (n) with grads (n) at learning rate cfg.lr: step += 1, then
// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
// p = p * (1 - lr wd [p decayed]) - lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps).
void adam_step(const AdamConfig& cfg, AdamState& state, float* params, const float* grads, size_t n,
               const DecayRanges& decayed = {});

// The instruction set the Adam kernel runs with on this CPU: "avx512f", "avx2" or "x86-64".
const char* adam_kernel_isa();

// The same update of one slice [first, first + n) of the parameters, for a sharded
// optimizer: p, g, m and v point at the slice, `step` is the update's number
// (1-based, already counted), `decayed` holds global indices. Element-wise, so a
// slice gets exactly the bits the whole-buffer update gives it.
void adam_update_slice(const AdamConfig& cfg, uint64_t step, float* p, const float* g, float* m, float* v,
                       size_t first, size_t n, const DecayRanges& decayed = {});

// Learning-rate schedules. The rate is a pure function of the step, so a resumed
// run continues on exactly the same curve.
enum class LrSchedule {
  constant,  // lr after the warmup
  cosine,    // from lr after the warmup down to 0 at total_steps (half a cosine)
  step,      // lr times gamma after every step_every steps
};
LrSchedule lr_schedule_parse(const std::string& name);  // throws Error(usage)
std::string lr_schedule_name(LrSchedule schedule);

struct LrPlan {
  LrSchedule schedule = LrSchedule::cosine;
  double lr = 1e-3;           // peak rate
  uint64_t warmup_steps = 0;  // linear ramp: update s < warmup runs at lr * (s + 1) / warmup
  uint64_t total_steps = 0;   // planned updates (cosine's end)
  uint64_t step_every = 0;    // step schedule's period (0: never decays)
  double gamma = 0.1;         // step schedule's factor
};
// Learning rate of update `step` (0-based).
double lr_at(const LrPlan& plan, uint64_t step);

// Euclidean norm of g, summed in fixed blocks in a fixed order: the same bits
// for any number of threads, so every rank computes the same clipping factor.
double global_norm(const float* g, size_t n);
// The squared norm the same way (without the root), to combine slices' shares.
double sum_of_squares(const float* g, size_t n);
// Scales g by factor (clipping with a norm computed elsewhere).
void scale_in_place(float* g, size_t n, float factor);
// Scales g so that its norm is at most max_norm (Pascanu et al. 2013); returns the norm before.
double clip_by_global_norm(float* g, size_t n, double max_norm);

}  // namespace digitnet

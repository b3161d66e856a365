#include "digitnet/train/recipe.hpp"

#include <cmath>

namespace digitnet {

LrPlan recipe_lr_plan(const Recipe& r, double lr, uint64_t batch, uint64_t steps_per_epoch, uint64_t epochs) {
  auto steps_of = [&](double e) { return uint64_t(std::llround(e * double(steps_per_epoch))); };
  LrPlan plan;
  plan.schedule = r.lr_schedule;
  plan.lr = r.lr_ref_batch ? lr * double(batch) / double(r.lr_ref_batch) : lr;
  plan.warmup_steps = steps_of(r.warmup_epochs);
  plan.total_steps = epochs * steps_per_epoch;
  plan.step_every = steps_of(r.lr_step_epochs);
  plan.gamma = r.lr_gamma;
  return plan;
}

}  // namespace digitnet

// The training recipe: everything besides Adam's own constants that shapes the
// updates — schedule, scaling rule, clipping, regularisation, augmentation,
// evaluation. Options fill it, checkpoints record it, a resume restores it.
#pragma once
#include <cstdint>
#include <string>

#include "digitnet/train/augment.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"

namespace digitnet {

struct Recipe {
  LrSchedule lr_schedule = LrSchedule::cosine;
  double warmup_epochs = 0;   // linear warmup (Goyal et al. 2017)
  double lr_step_epochs = 0;  // step schedule: decay period in epochs
  double lr_gamma = 0.1;      // step schedule: decay factor
  uint64_t lr_ref_batch = 0;  // linear scaling rule: peak lr = lr * batch / lr_ref_batch (0: off)
  double clip_grad_norm = 0;  // clip the global gradient norm to this (0: off)
  Regularization reg;         // dropout, label smoothing
  AugmentConfig augment;      // on-the-fly distortions of the training images
  uint64_t eval_every = 1;    // score the test set every N epochs (and at the end)
  uint64_t early_stop = 0;    // stop after N evaluations without a better test accuracy (0: never)
  std::string preset;         // the preset it started from, for the record ("" = none)
};

// The learning-rate plan of a run: epochs converted to steps, the scaling rule applied.
LrPlan recipe_lr_plan(const Recipe& recipe, double lr, uint64_t batch, uint64_t steps_per_epoch, uint64_t epochs);

}  // namespace digitnet

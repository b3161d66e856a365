// The training recipe: everything that shapes the updates — Adam's settings,
// schedule, scaling rule, clipping, regularisation, augmentation, evaluation.
// Options fill it, checkpoints record it, a resume restores it.
//
// Every numeric setting is one row of recipe_settings(): its option name, its
// place in the struct and in the checkpoint, the values it accepts. The option
// parser, the resume override and the checkpoint codec all read that table, so
// a new setting is a struct field, a proto field and one row.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/core/precision.hpp"
#include "digitnet/train/augment.hpp"

namespace digitnet {

class Checkpoint;  // proto/digitnet/checkpoint.proto

struct Recipe {
  AdamConfig adam;            // adam.lr: the schedule's peak (before the scaling rule)
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
  Precision precision = Precision::f32;  // the training GEMMs' inputs (--precision)
};

// Where a setting's option appears in --help.
enum class RecipeGroup { training, regularisation, evaluation };

// The values a setting accepts: lo/hi, each bound open or closed; always finite.
struct Bounds {
  double lo, hi;
  bool lo_open = false, hi_open = true;
  bool contains(double v) const;
  std::string text(bool integer) const;  // "must be in [0, 1)", "must be positive", ...
};

// One numeric setting of the recipe.
struct RecipeSetting {
  using Ref = std::variant<double& (*)(Recipe&), float& (*)(Recipe&), uint64_t& (*)(Recipe&)>;
  const char* option;      // command-line name and --config key
  RecipeGroup group;
  Ref ref;                 // the field in a Recipe
  const char* proto_path;  // the field in a Checkpoint, e.g. "training.augment.rotate_deg"
  Bounds bounds;
  const char* help;
};
const std::vector<RecipeSetting>& recipe_settings();

// The setting's value in r, as a double (exact for every value the bounds allow).
double recipe_get(const RecipeSetting& s, const Recipe& r);
// Throws Error(usage) "--<option> must be ..." unless every setting is within its bounds.
void recipe_validate(const Recipe& r);

// On resume: the recorded recipe, with the settings given now (their option
// names in `given`) taken from `now`.
void recipe_override(Recipe& recorded, const Recipe& now, const std::set<std::string>& given);

// The checkpoint's recipe fields (training.* and adam.* settings), and the inverse:
// zero means absent (older checkpoints) and reads as the default; values outside
// their bounds are refused naming `name`.
void recipe_to_proto(const Recipe& r, Checkpoint* ck);
Recipe recipe_from_proto(const Checkpoint& ck, const std::string& name);

// The learning-rate plan of a run: epochs converted to steps, the scaling rule applied.
LrPlan recipe_lr_plan(const Recipe& recipe, uint64_t batch, uint64_t steps_per_epoch, uint64_t epochs);

}  // namespace digitnet

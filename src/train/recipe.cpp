#include "digitnet/train/recipe.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Bounds: [0, inf), (0, inf), [1, inf), [0, 1), (0, 1].
constexpr Bounds kNonNegative{0, kInf}, kPositive{0, kInf, true}, kAtLeastOne{1, kInf};
constexpr Bounds kFraction{0, 1}, kFactor{0, 1, true, false};

using G = RecipeGroup;

// The table. Rows with a `group` of training/regularisation/evaluation appear in
// that --help group, in this order.
const std::vector<RecipeSetting> kSettings = {
    {"lr", G::training, [](Recipe& r) -> double& { return r.adam.lr; }, "adam.lr", kPositive,
     "Adam learning rate (the schedule's starting value)"},
    {"warmup-epochs", G::training, [](Recipe& r) -> double& { return r.warmup_epochs; }, "training.warmup_epochs",
     kNonNegative, "ramp the learning rate up linearly over this many epochs (may be fractional)"},
    {"lr-step-epochs", G::training, [](Recipe& r) -> double& { return r.lr_step_epochs; }, "training.lr_step_epochs",
     kNonNegative, "step schedule: epochs between decays"},
    {"lr-gamma", G::training, [](Recipe& r) -> double& { return r.lr_gamma; }, "training.lr_gamma", kFactor,
     "step schedule: decay factor"},
    {"lr-ref-batch", G::training, [](Recipe& r) -> uint64_t& { return r.lr_ref_batch; }, "training.lr_ref_batch",
     kNonNegative, "linear scaling rule (Goyal et al. 2017): peak rate = --lr x batch / this (0 = off)"},
    {"weight-decay", G::training, [](Recipe& r) -> double& { return r.adam.weight_decay; }, "adam.weight_decay",
     kNonNegative, "decoupled weight decay (AdamW) on weights, not biases"},
    {"clip-grad-norm", G::training, [](Recipe& r) -> double& { return r.clip_grad_norm; }, "training.clip_grad_norm",
     kNonNegative, "clip the global gradient norm to this (0 = off)"},
    {"beta1", G::training, [](Recipe& r) -> double& { return r.adam.beta1; }, "adam.beta1", kFraction,
     "Adam first-moment decay"},
    {"beta2", G::training, [](Recipe& r) -> double& { return r.adam.beta2; }, "adam.beta2", kFraction,
     "Adam second-moment decay"},
    {"eps", G::training, [](Recipe& r) -> double& { return r.adam.eps; }, "adam.eps", kPositive, "Adam epsilon"},
    {"label-smoothing", G::regularisation, [](Recipe& r) -> float& { return r.reg.label_smoothing; },
     "training.label_smoothing", kFraction, "label smoothing of the cross-entropy target"},
    {"rotate", G::regularisation, [](Recipe& r) -> double& { return r.augment.rotate_deg; },
     "training.augment.rotate_deg", kNonNegative, "random rotation up to this many degrees"},
    {"scale", G::regularisation, [](Recipe& r) -> double& { return r.augment.scale; }, "training.augment.scale",
     kFraction, "random scaling by up to this fraction"},
    {"shear", G::regularisation, [](Recipe& r) -> double& { return r.augment.shear; }, "training.augment.shear",
     kFraction, "random shear up to this factor"},
    {"translate", G::regularisation, [](Recipe& r) -> double& { return r.augment.translate; },
     "training.augment.translate", kNonNegative, "random shift up to this many pixels"},
    {"elastic-alpha", G::regularisation, [](Recipe& r) -> double& { return r.augment.elastic_alpha; },
     "training.augment.elastic_alpha", kNonNegative,
     "elastic distortion strength in pixels (Simard et al. 2003; 0 = off)"},
    {"elastic-sigma", G::regularisation, [](Recipe& r) -> double& { return r.augment.elastic_sigma; },
     "training.augment.elastic_sigma", kPositive, "smoothness of the elastic distortion field in pixels"},
    {"eval-every", G::evaluation, [](Recipe& r) -> uint64_t& { return r.eval_every; }, "training.eval_every",
     kAtLeastOne, "score the test set every N epochs (and at the end); best.pb keeps the best"},
    {"early-stop", G::evaluation, [](Recipe& r) -> uint64_t& { return r.early_stop; }, "training.early_stop",
     kNonNegative, "stop after N evaluations without a better test accuracy (0 = never)"},
};

// ---- protobuf reflection over dotted paths ("training.augment.rotate_deg") ----
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const FieldDescriptor* field_named(const Message& m, const std::string& name) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (!f) fail(ErrorKind::runtime, "recipe table: no field " + name + " in " + m.GetDescriptor()->full_name());
  return f;
}

// The message holding the path's last field (created when absent), and that field.
std::pair<Message*, const FieldDescriptor*> field_at(Message* m, const std::string& path) {
  size_t dot;
  std::string rest = path;
  while ((dot = rest.find('.')) != std::string::npos) {
    m = m->GetReflection()->MutableMessage(m, field_named(*m, rest.substr(0, dot)));
    rest = rest.substr(dot + 1);
  }
  return {m, field_named(*m, rest)};
}

std::pair<const Message*, const FieldDescriptor*> field_at(const Message& root, const std::string& path) {
  const Message* m = &root;
  size_t dot;
  std::string rest = path;
  while ((dot = rest.find('.')) != std::string::npos) {
    m = &m->GetReflection()->GetMessage(*m, field_named(*m, rest.substr(0, dot)));
    rest = rest.substr(dot + 1);
  }
  return {m, field_named(*m, rest)};
}

void proto_set(Message* root, const RecipeSetting& s, const Recipe& r) {
  const auto at = field_at(root, s.proto_path);  // not a structured binding: lambdas below use both
  const auto m = at.first;
  const auto f = at.second;
  Recipe& value = const_cast<Recipe&>(r);  // the refs are non-const accessors; nothing is written
  std::visit([&](auto ref) {
    using T = std::decay_t<decltype(ref(value))>;
    if constexpr (std::is_same_v<T, double>) m->GetReflection()->SetDouble(m, f, ref(value));
    if constexpr (std::is_same_v<T, float>) m->GetReflection()->SetFloat(m, f, ref(value));
    if constexpr (std::is_same_v<T, uint64_t>) m->GetReflection()->SetUInt64(m, f, ref(value));
  }, s.ref);
}

// Reads the field into r; false when it is zero (absent), leaving r's value.
bool proto_get(const Message& root, const RecipeSetting& s, Recipe& r) {
  const auto at = field_at(root, s.proto_path);  // not a structured binding: lambdas below use both
  const auto m = at.first;
  const auto f = at.second;
  bool present = false;
  std::visit([&](auto ref) {
    using T = std::decay_t<decltype(ref(r))>;
    T v{};
    if constexpr (std::is_same_v<T, double>) v = m->GetReflection()->GetDouble(*m, f);
    if constexpr (std::is_same_v<T, float>) v = m->GetReflection()->GetFloat(*m, f);
    if constexpr (std::is_same_v<T, uint64_t>) v = m->GetReflection()->GetUInt64(*m, f);
    present = v != T{};
    if (present) ref(r) = v;
  }, s.ref);
  return present;
}

LearningRateSchedule schedule_to_proto(LrSchedule s) {
  switch (s) {
    case LrSchedule::cosine: return SCHEDULE_COSINE;
    case LrSchedule::step: return SCHEDULE_STEP;
    default: return SCHEDULE_CONSTANT;
  }
}

LrSchedule schedule_from_proto(const TrainingState& t, const std::string& name) {
  switch (t.schedule()) {
    case SCHEDULE_COSINE: return LrSchedule::cosine;
    case SCHEDULE_STEP: return LrSchedule::step;
    case SCHEDULE_CONSTANT: return LrSchedule::constant;
    default: break;
  }
  // Checkpoints older than field 26 name the schedule in field 11.
  if (t.lr_schedule() == "cosine") return LrSchedule::cosine;
  if (t.lr_schedule() == "step") return LrSchedule::step;
  if (t.lr_schedule().empty() || t.lr_schedule() == "constant") return LrSchedule::constant;
  fail(ErrorKind::checkpoint, name + ": unknown learning-rate schedule '" + t.lr_schedule() + "'");
}

GemmPrecision precision_to_proto(Precision p) { return p == Precision::bf16 ? GEMM_PRECISION_BF16 : GEMM_PRECISION_F32; }

Precision precision_from_proto(const TrainingState& t, const std::string& name) {
  switch (t.precision()) {
    case GEMM_PRECISION_UNSPECIFIED:  // checkpoints older than field 27 trained in f32
    case GEMM_PRECISION_F32: return Precision::f32;
    case GEMM_PRECISION_BF16: return Precision::bf16;
    default: fail(ErrorKind::checkpoint, name + ": unknown GEMM precision " + std::to_string(int(t.precision())));
  }
}

}  // namespace

const std::vector<RecipeSetting>& recipe_settings() { return kSettings; }

bool Bounds::contains(double v) const {
  return std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
}

std::string Bounds::text(bool integer) const {
  if (hi == kInf) {
    if (integer) return lo == 0 ? "must not be negative" : "must be positive";
    return lo_open ? "must be a positive number" : "must be a number >= 0";
  }
  std::ostringstream ss;
  ss << "must be in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
  return ss.str();
}

double recipe_get(const RecipeSetting& s, const Recipe& r) {
  Recipe& value = const_cast<Recipe&>(r);  // read only
  return std::visit([&](auto ref) { return double(ref(value)); }, s.ref);
}

void recipe_validate(const Recipe& r) {
  for (const RecipeSetting& s : kSettings) {
    const bool integer = std::holds_alternative<uint64_t& (*)(Recipe&)>(s.ref);
    if (!s.bounds.contains(recipe_get(s, r)))
      fail(ErrorKind::usage, std::string("--") + s.option + " " + s.bounds.text(integer));
  }
  for (float d : r.reg.dropout)
    if (!(d >= 0 && d < 1)) fail(ErrorKind::usage, "--dropout rates must be in [0, 1)");
  r.augment.validate();
}

void recipe_override(Recipe& recorded, const Recipe& now, const std::set<std::string>& given) {
  Recipe& from = const_cast<Recipe&>(now);  // read only
  for (const RecipeSetting& s : kSettings)
    if (given.count(s.option)) std::visit([&](auto ref) { ref(recorded) = ref(from); }, s.ref);
  if (given.count("lr-schedule")) recorded.lr_schedule = now.lr_schedule;
  if (given.count("dropout")) recorded.reg.dropout = now.reg.dropout;
  if (given.count("precision")) recorded.precision = now.precision;
}

void recipe_to_proto(const Recipe& r, Checkpoint* ck) {
  for (const RecipeSetting& s : kSettings) proto_set(ck, s, r);
  TrainingState* t = ck->mutable_training();
  t->set_schedule(schedule_to_proto(r.lr_schedule));
  t->set_lr_schedule(lr_schedule_name(r.lr_schedule));  // for readers older than field 26
  t->mutable_dropout()->Add(r.reg.dropout.begin(), r.reg.dropout.end());
  t->set_preset(r.preset);
  t->set_precision(precision_to_proto(r.precision));
}

Recipe recipe_from_proto(const Checkpoint& ck, const std::string& name) {
  Recipe r;
  for (const RecipeSetting& s : kSettings) {
    // Zero is "absent" only where zero is not a valid value (else it is the value).
    if (!proto_get(ck, s, r) && s.bounds.contains(0)) std::visit([&](auto ref) { ref(r) = 0; }, s.ref);
    if (!s.bounds.contains(recipe_get(s, r)))
      fail(ErrorKind::checkpoint, name + ": invalid recipe: " + s.proto_path + " = " + std::to_string(recipe_get(s, r)) +
                                      " (" + s.bounds.text(false) + ")");
  }
  const TrainingState& t = ck.training();
  r.lr_schedule = schedule_from_proto(t, name);
  r.reg.dropout.assign(t.dropout().begin(), t.dropout().end());
  for (float d : r.reg.dropout)
    if (!(d >= 0 && d < 1)) fail(ErrorKind::checkpoint, name + ": invalid dropout rate");
  r.preset = t.preset();
  r.precision = precision_from_proto(t, name);
  return r;
}

LrPlan recipe_lr_plan(const Recipe& r, uint64_t batch, uint64_t steps_per_epoch, uint64_t epochs) {
  auto steps_of = [&](double e) { return uint64_t(std::llround(e * double(steps_per_epoch))); };
  LrPlan plan;
  plan.schedule = r.lr_schedule;
  plan.lr = r.lr_ref_batch ? r.adam.lr * double(batch) / double(r.lr_ref_batch) : r.adam.lr;
  plan.warmup_steps = steps_of(r.warmup_epochs);
  plan.total_steps = epochs * steps_per_epoch;
  plan.step_every = steps_of(r.lr_step_epochs);
  plan.gamma = r.lr_gamma;
  return plan;
}

}  // namespace digitnet

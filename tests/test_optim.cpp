// Optimizer: Adam against the formula of Kingma & Ba evaluated in double
// precision, and the learning-rate schedules.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "digitnet/core/error.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/train/recipe.hpp"
#include "digitnet/core/rng.hpp"

using namespace digitnet;

namespace {

// Adam exactly as documented in optim.hpp, in double: the reference.
struct RefAdam {
  std::vector<double> p, m, v;
  uint64_t t = 0;
  void step(const AdamConfig& c, const std::vector<double>& g) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
      v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(c.beta1, double(t)));
      const double vhat = v[i] / (1 - std::pow(c.beta2, double(t)));
      p[i] -= c.lr * mhat / (std::sqrt(vhat) + c.eps);
    }
  }
};

// |a - b| <= rel * |b| (float results against a double reference).
void expect_rel(double a, double b, double rel, const std::string& what) {
  EXPECT_LE(std::fabs(a - b), rel * std::fabs(b)) << what << ": got " << a << ", expected " << b;
}

}  // namespace

TEST(Adam, ThreeStepsMatchTheFormulaInDouble) {
  const AdamConfig cfg{0.01, 0.9, 0.999, 1e-8};
  const std::vector<double> p0{0.5, -1.25, 2.0};
  // Gradients change sign and scale between steps, so m and v do not simply track g.
  const std::vector<std::vector<double>> grads{{0.1, -2.0, 0.003}, {-0.3, -1.0, 0.5}, {0.2, 4.0, -0.25}};

  RefAdam ref{p0, {0, 0, 0}, {0, 0, 0}};
  std::vector<float> p(p0.begin(), p0.end());
  AdamState st;
  st.reset(3);
  for (size_t s = 0; s < grads.size(); ++s) {
    const std::vector<float> g(grads[s].begin(), grads[s].end());
    adam_step(cfg, st, p.data(), g.data(), 3);
    ref.step(cfg, grads[s]);
    ASSERT_EQ(st.step, s + 1);
    for (size_t i = 0; i < 3; ++i) {
      const std::string where = "step " + std::to_string(s + 1) + " param " + std::to_string(i);
      expect_rel(p[i], ref.p[i], 1e-6, where + " value");
      // The displacement from p0 is what Adam computed; check it on its own scale too.
      expect_rel(double(p[i]) - p0[i], ref.p[i] - p0[i], 1e-4, where + " displacement");
      expect_rel(st.m[i], ref.m[i], 1e-6, where + " m");
      expect_rel(st.v[i], ref.v[i], 1e-6, where + " v");
    }
  }
}

TEST(Adam, FirstStepMovesByLearningRateTimesSignOfGradient) {
  // Worked by hand: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025;
  // mhat = 0.05 / 0.1 = 0.5, vhat = 0.00025 / 0.001 = 0.25, sqrt(vhat) = 0.5;
  // p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 1 - 0.099999998 = 0.900000002.
  const AdamConfig cfg{0.1, 0.9, 0.999, 1e-8};
  AdamState st;
  st.reset(2);
  float p[2] = {1.0f, 0.0f};
  const float g[2] = {0.5f, -0.5f};
  adam_step(cfg, st, p, g, 2);
  EXPECT_NEAR(p[0], 0.900000002, 1e-6);
  EXPECT_NEAR(p[1], 0.099999998, 1e-7);  // from 0: the step itself, at float resolution ~7e-9
}

TEST(Adam, MomentsAfterOneStepAreScaledGradientAndSquare) {
  const AdamConfig cfg{1e-3, 0.9, 0.999, 1e-8};
  const std::vector<float> g{0.5f, -3.0f, 1e-3f, 0.0f};
  std::vector<float> p{1, 2, 3, 4};
  AdamState st;
  st.reset(g.size());
  adam_step(cfg, st, p.data(), g.data(), g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    const double gi = g[i];
    EXPECT_NEAR(st.m[i], (1 - 0.9) * gi, 1e-6 * std::fabs(0.1 * gi)) << "m[" << i << "]";
    EXPECT_NEAR(st.v[i], (1 - 0.999) * gi * gi, 1e-6 * std::fabs(0.001 * gi * gi)) << "v[" << i << "]";
  }
}

TEST(Adam, StepCounterCountsUpdates) {
  const AdamConfig cfg;
  AdamState st;
  st.reset(1);
  float p = 0.f;
  const float g = 1.f;
  for (uint64_t s = 1; s <= 5; ++s) {
    adam_step(cfg, st, &p, &g, 1);
    EXPECT_EQ(st.step, s);
  }
  st.reset(1);  // reset starts over: counter and moments
  EXPECT_EQ(st.step, 0u);
  EXPECT_EQ(st.m[0], 0.f);
  EXPECT_EQ(st.v[0], 0.f);
}

TEST(Adam, ZeroGradientAtFirstStepLeavesParametersUnchanged) {
  // m = v = 0: the update is 0 / (0 + eps) = 0, exactly (eps guards the division).
  const AdamConfig cfg{0.5, 0.9, 0.999, 1e-8};
  std::vector<float> p{1.5f, -0.25f, 0.f, 3e-30f};
  const std::vector<float> before = p;
  const std::vector<float> g(4, 0.f);
  AdamState st;
  st.reset(4);
  adam_step(cfg, st, p.data(), g.data(), 4);
  EXPECT_EQ(p, before);
  EXPECT_EQ(st.step, 1u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(st.m[i], 0.f);
    EXPECT_EQ(st.v[i], 0.f);
  }
}

TEST(Adam, UpdateIsElementwise) {
  // A parameter's update depends only on its own gradient: the same (p, g) pair gives
  // the same result at any position and alongside any other gradients.
  const AdamConfig cfg{0.05, 0.9, 0.999, 1e-8};
  std::vector<float> a{0.3f, 0.3f, 0.3f}, b{0.3f};
  const std::vector<float> ga{0.7f, -100.f, 1e-6f}, gb{0.7f};
  AdamState sa, sb;
  sa.reset(3);
  sb.reset(1);
  for (int s = 0; s < 3; ++s) {
    adam_step(cfg, sa, a.data(), ga.data(), 3);
    adam_step(cfg, sb, b.data(), gb.data(), 1);
  }
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(sa.m[0], sb.m[0]);
  EXPECT_EQ(sa.v[0], sb.v[0]);
}

// ---------------------------------------------------------------- schedules

LrPlan plan_of(LrSchedule schedule, double lr, uint64_t total, uint64_t warmup = 0) {
  LrPlan p;
  p.schedule = schedule;
  p.lr = lr;
  p.total_steps = total;
  p.warmup_steps = warmup;
  return p;
}

TEST(LrSchedule, ConstantReturnsTheBaseRateAtEveryStep) {
  for (uint64_t s : {0, 1, 500, 999, 1000, 5000}) EXPECT_EQ(lr_at(plan_of(LrSchedule::constant, 0.003, 1000), s), 0.003);
}

TEST(LrSchedule, CosineFallsFromLrToZero) {
  const double lr = 0.2;
  const uint64_t total = 1000;
  const LrPlan p = plan_of(LrSchedule::cosine, lr, total);
  EXPECT_DOUBLE_EQ(lr_at(p, 0), lr);
  EXPECT_NEAR(lr_at(p, total / 2), lr / 2, 1e-15);
  EXPECT_NEAR(lr_at(p, total), 0.0, 1e-15);
  EXPECT_NEAR(lr_at(p, total / 4), lr * (1 + std::sqrt(0.5)) / 2, 1e-15);
  for (uint64_t s : {1, 10, 123, 333, 640, 999}) {
    const double expect = lr * (1 + std::cos(M_PI * double(s) / double(total))) / 2;
    EXPECT_NEAR(lr_at(p, s), expect, 1e-15) << "step " << s;
  }
}

TEST(LrSchedule, CosineIsMonotoneNonIncreasingAndNeverNegative) {
  const uint64_t total = 937;  // odd, not a round number
  const LrPlan p = plan_of(LrSchedule::cosine, 1e-3, total);
  double prev = lr_at(p, 0);
  for (uint64_t s = 1; s <= total + 50; ++s) {  // steps past the planned end stay at 0
    const double lr = lr_at(p, s);
    ASSERT_LE(lr, prev) << "step " << s;
    ASSERT_GE(lr, 0.0) << "step " << s;
    prev = lr;
  }
  EXPECT_NEAR(prev, 0.0, 1e-18);
}

TEST(LrSchedule, LinearWarmupThenCosineMatchesTheFormula) {
  const double lr = 0.01;
  const uint64_t warmup = 100, total = 1100;
  const LrPlan p = plan_of(LrSchedule::cosine, lr, total, warmup);
  for (uint64_t s : {0, 1, 49, 98, 99}) EXPECT_DOUBLE_EQ(lr_at(p, s), lr * double(s + 1) / 100) << "warmup step " << s;
  EXPECT_DOUBLE_EQ(lr_at(p, warmup), lr);  // the peak right after the ramp
  for (uint64_t s : {150, 600, 1000, 1099}) {
    const double expect = lr * (1 + std::cos(M_PI * double(s - warmup) / double(total - warmup))) / 2;
    EXPECT_NEAR(lr_at(p, s), expect, 1e-16) << "step " << s;
  }
  EXPECT_NEAR(lr_at(p, total), 0.0, 1e-18);
}

TEST(LrSchedule, StepDecayMultipliesByGammaEveryPeriod) {
  LrPlan p = plan_of(LrSchedule::step, 0.1, 1000, 10);
  p.step_every = 300;
  p.gamma = 0.5;
  EXPECT_DOUBLE_EQ(lr_at(p, 0), 0.01);   // warmup first
  EXPECT_DOUBLE_EQ(lr_at(p, 10), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(p, 299), 0.1);
  EXPECT_DOUBLE_EQ(lr_at(p, 300), 0.05);
  EXPECT_DOUBLE_EQ(lr_at(p, 599), 0.05);
  EXPECT_DOUBLE_EQ(lr_at(p, 600), 0.025);
  EXPECT_DOUBLE_EQ(lr_at(p, 900), 0.0125);
}

TEST(LrSchedule, RecipeConvertsEpochsAndAppliesTheLinearScalingRule) {
  Recipe r;
  r.lr_schedule = LrSchedule::step;
  r.warmup_epochs = 0.5;
  r.lr_step_epochs = 3;
  r.lr_gamma = 0.2;
  r.lr_ref_batch = 256;
  r.adam.lr = 1e-3;
  const LrPlan p = recipe_lr_plan(r, 1024, 100, 10);  // batch 1024 = 4 x the reference
  EXPECT_DOUBLE_EQ(p.lr, 4e-3);
  EXPECT_EQ(p.warmup_steps, 50u);
  EXPECT_EQ(p.step_every, 300u);
  EXPECT_EQ(p.total_steps, 1000u);
  EXPECT_EQ(p.gamma, 0.2);
  r.lr_ref_batch = 0;  // rule off: the rate as given
  EXPECT_DOUBLE_EQ(recipe_lr_plan(r, 1024, 100, 10).lr, 1e-3);
}

TEST(LrSchedule, NamesRoundTrip) {
  EXPECT_EQ(lr_schedule_parse("cosine"), LrSchedule::cosine);
  EXPECT_EQ(lr_schedule_parse("constant"), LrSchedule::constant);
  EXPECT_EQ(lr_schedule_parse("step"), LrSchedule::step);
  for (LrSchedule s : {LrSchedule::constant, LrSchedule::cosine, LrSchedule::step})
    EXPECT_EQ(lr_schedule_parse(lr_schedule_name(s)), s);
  EXPECT_EQ(lr_schedule_name(LrSchedule::cosine), "cosine");
  EXPECT_EQ(lr_schedule_name(LrSchedule::constant), "constant");
}

TEST(LrSchedule, UnknownNameIsAUsageError) {
  for (const char* bad : {"", "Cosine", "linear", "cosine ", "const", "steps"}) {
    try {
      lr_schedule_parse(bad);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage) << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << "message does not quote the value";
    }
  }
}

// ---------------------------------------------------------------- AdamW, clipping

TEST(AdamW, DecaysOnlyTheGivenRangesByLrTimesDecay) {
  // Zero gradients: Adam's own update is exactly 0, so only the decay moves p.
  AdamConfig cfg;
  cfg.lr = 0.1;
  cfg.weight_decay = 0.5;
  AdamState st;
  st.reset(6);
  std::vector<float> p{1, 2, 3, 4, 5, 6}, g(6, 0.f);
  adam_step(cfg, st, p.data(), g.data(), p.size(), {{0, 2}, {4, 5}});
  const float f = float(1.0 - 0.1 * 0.5);
  EXPECT_EQ(p[0], 1 * f);
  EXPECT_EQ(p[1], 2 * f);
  EXPECT_EQ(p[2], 3.f);  // not in a decayed range (e.g. a bias)
  EXPECT_EQ(p[3], 4.f);
  EXPECT_EQ(p[4], 5 * f);
  EXPECT_EQ(p[5], 6.f);
}

TEST(AdamW, ZeroDecayIsBitwisePlainAdam) {
  AdamConfig cfg;
  AdamState a, b;
  a.reset(5);
  b.reset(5);
  std::vector<float> pa{0.5f, -1, 2, 0.25f, 3}, pb = pa, g{0.1f, -0.2f, 0.3f, 0.f, -1e-4f};
  for (int k = 0; k < 3; ++k) {
    adam_step(cfg, a, pa.data(), g.data(), 5);
    adam_step(cfg, b, pb.data(), g.data(), 5, {{0, 5}});  // ranges given, decay 0
  }
  EXPECT_EQ(0, std::memcmp(pa.data(), pb.data(), 5 * sizeof(float)));
}

TEST(GradientClipping, GlobalNormAndScaling) {
  std::vector<float> g(10001, 0.f);
  g[0] = 3;
  g[10000] = 4;  // norm 5, across two blocks
  EXPECT_DOUBLE_EQ(global_norm(g.data(), g.size()), 5.0);
  std::vector<float> h = g;
  EXPECT_DOUBLE_EQ(clip_by_global_norm(h.data(), h.size(), 10.0), 5.0);  // below the limit: untouched
  EXPECT_EQ(0, std::memcmp(h.data(), g.data(), g.size() * sizeof(float)));
  clip_by_global_norm(h.data(), h.size(), 1.0);
  EXPECT_FLOAT_EQ(h[0], 0.6f);
  EXPECT_FLOAT_EQ(h[10000], 0.8f);
  EXPECT_NEAR(global_norm(h.data(), h.size()), 1.0, 1e-6);
}

TEST(GradientClipping, NormIsTheSameForAnyThreadCount) {
  std::vector<float> g(300007);
  Rng rng(5);
  for (float& x : g) x = float(rng.normal());
  omp_set_num_threads(1);
  const double one = global_norm(g.data(), g.size());
  omp_set_num_threads(2);
  const double two = global_norm(g.data(), g.size());
  omp_set_num_threads(3);
  const double three = global_norm(g.data(), g.size());
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

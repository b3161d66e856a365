// Optimizer: Adam against the formula of Kingma & Ba evaluated in double
// precision, and the learning-rate schedules.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "digitnet/error.hpp"
#include "digitnet/optim.hpp"

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

TEST(LrSchedule, ConstantReturnsTheBaseRateAtEveryStep) {
  for (uint64_t s : {0, 1, 500, 999, 1000, 5000}) EXPECT_EQ(lr_at(LrSchedule::constant, 0.003, s, 1000), 0.003);
}

TEST(LrSchedule, CosineFallsFromLrToZero) {
  const double lr = 0.2;
  const uint64_t total = 1000;
  EXPECT_DOUBLE_EQ(lr_at(LrSchedule::cosine, lr, 0, total), lr);
  EXPECT_NEAR(lr_at(LrSchedule::cosine, lr, total / 2, total), lr / 2, 1e-15);
  EXPECT_NEAR(lr_at(LrSchedule::cosine, lr, total, total), 0.0, 1e-15);
  EXPECT_NEAR(lr_at(LrSchedule::cosine, lr, total / 4, total), lr * (1 + std::sqrt(0.5)) / 2, 1e-15);
  for (uint64_t s : {1, 10, 123, 333, 640, 999}) {
    const double expect = lr * (1 + std::cos(M_PI * double(s) / double(total))) / 2;
    EXPECT_NEAR(lr_at(LrSchedule::cosine, lr, s, total), expect, 1e-15) << "step " << s;
  }
}

TEST(LrSchedule, CosineIsMonotoneNonIncreasingAndNeverNegative) {
  const uint64_t total = 937;  // odd, not a round number
  double prev = lr_at(LrSchedule::cosine, 1e-3, 0, total);
  for (uint64_t s = 1; s <= total + 50; ++s) {  // steps past the planned end stay at 0
    const double lr = lr_at(LrSchedule::cosine, 1e-3, s, total);
    ASSERT_LE(lr, prev) << "step " << s;
    ASSERT_GE(lr, 0.0) << "step " << s;
    prev = lr;
  }
  EXPECT_NEAR(prev, 0.0, 1e-18);
}

TEST(LrSchedule, NamesRoundTrip) {
  EXPECT_EQ(lr_schedule_parse("cosine"), LrSchedule::cosine);
  EXPECT_EQ(lr_schedule_parse("constant"), LrSchedule::constant);
  for (LrSchedule s : {LrSchedule::constant, LrSchedule::cosine})
    EXPECT_EQ(lr_schedule_parse(lr_schedule_name(s)), s);
  EXPECT_EQ(lr_schedule_name(LrSchedule::cosine), "cosine");
  EXPECT_EQ(lr_schedule_name(LrSchedule::constant), "constant");
}

TEST(LrSchedule, UnknownNameIsAUsageError) {
  for (const char* bad : {"", "Cosine", "linear", "cosine ", "const"}) {
    try {
      lr_schedule_parse(bad);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage) << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << "message does not quote the value";
    }
  }
}

// Augmentation (issue 5): the distortion of a sample is a function of (seed, epoch,
// sample index) only; identity parameters give the input back; distortions move
// pixels where the geometry says, keep the ink of real digits and stay inside the
// image; batches are the same bytes whatever the batch split, order or thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "digitnet/train/augment.hpp"
#include "mnist_fixture.hpp"
#include "digitnet/core/data.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/rng.hpp"
#include "digitnet/core/shard.hpp"

using namespace digitnet;

namespace {

// Settings close to Ciresan et al. 2010's: what the `best` preset is designed around.
AugmentConfig best_config() {
  AugmentConfig c;
  c.rotate_deg = 15;
  c.scale = 0.15;
  c.shear = 0.2;
  c.translate = 3;
  c.elastic_alpha = 36;
  c.elastic_sigma = 6;
  return c;
}

// Random bytes: every pixel differs from its neighbours, so a wrong shift cannot match by accident.
std::vector<uint8_t> noise_image(uint32_t rows, uint32_t cols, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> img(size_t(rows) * cols);
  for (auto& p : img) p = uint8_t(rng.below(256));
  return img;
}

uint64_t fnv1a(const float* v, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(v);
  for (size_t i = 0; i < n * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

double mass(const float* v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += v[i];
  return s;
}

const Dataset& mnist_train() { return test::mnist("train"); }

// The first `count` images of ds as a data set of their own (small permutations, quick tests).
Dataset head(const Dataset& ds, size_t count) {
  Dataset h;
  if (ds.count < count) return h;  // the caller's size check fails
  h.rows = ds.rows;
  h.cols = ds.cols;
  h.count = count;
  h.num_classes = ds.num_classes;
  h.images.assign(ds.images.begin(), ds.images.begin() + count * ds.features());
  h.labels.assign(ds.labels.begin(), ds.labels.begin() + count);
  return h;
}

}  // namespace

TEST(AugmentConfig, EnabledByAnyRangeButNotBySigmaAlone) {
  AugmentConfig c;
  EXPECT_FALSE(c.enabled());
  c.elastic_sigma = 6;  // sigma only shapes a field that alpha = 0 switches off
  EXPECT_FALSE(c.enabled());
  for (double AugmentConfig::*field : {&AugmentConfig::rotate_deg, &AugmentConfig::scale, &AugmentConfig::shear,
                                       &AugmentConfig::translate, &AugmentConfig::elastic_alpha}) {
    AugmentConfig one;
    one.*field = 0.1;
    EXPECT_TRUE(one.enabled());
  }
}

TEST(AugmentConfig, ValidateRefusesBadRanges) {
  const auto expect_usage = [](AugmentConfig c, const char* what) {
    try {
      c.validate();
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage) << what;
    }
  };
  AugmentConfig c;
  c.rotate_deg = -1;
  expect_usage(c, "negative rotation");
  c = {};
  c.translate = NAN;
  expect_usage(c, "NaN translation");
  c = {};
  c.shear = INFINITY;
  expect_usage(c, "infinite shear");
  c = {};
  c.scale = 1;  // would allow a zero scale factor
  expect_usage(c, "scale 1");
  c = {};
  c.elastic_alpha = 34;
  c.elastic_sigma = 0;
  expect_usage(c, "alpha without sigma");
  EXPECT_NO_THROW(best_config().validate());
  EXPECT_THROW(Augmenter{c}, Error);  // the Augmenter validates too
}

TEST(AffineDraw, CoversTheRangesAndKeepsTheOrderOfDraws) {
  const AugmentConfig c = best_config();
  double lo_rot = 1e9, hi_rot = -1e9, lo_tx = 1e9, hi_tx = -1e9, lo_s = 1e9, hi_s = -1e9;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Rng rng(seed);
    const AffineParams a = affine_draw(c, rng);
    ASSERT_LE(std::abs(a.rotate_deg), c.rotate_deg);
    ASSERT_LE(std::abs(a.scale - 1), c.scale);
    ASSERT_LE(std::abs(a.shear), c.shear);
    ASSERT_LE(std::abs(a.tx), c.translate);
    ASSERT_LE(std::abs(a.ty), c.translate);
    lo_rot = std::min(lo_rot, a.rotate_deg), hi_rot = std::max(hi_rot, a.rotate_deg);
    lo_tx = std::min(lo_tx, a.tx), hi_tx = std::max(hi_tx, a.tx);
    lo_s = std::min(lo_s, a.scale), hi_s = std::max(hi_s, a.scale);
  }
  // Symmetric ranges, used to the ends (a sign or half-range slip fails here).
  EXPECT_LT(lo_rot, -0.95 * c.rotate_deg);
  EXPECT_GT(hi_rot, 0.95 * c.rotate_deg);
  EXPECT_LT(lo_tx, -0.95 * c.translate);
  EXPECT_GT(hi_tx, 0.95 * c.translate);
  EXPECT_LT(lo_s, 1 - 0.95 * c.scale);
  EXPECT_GT(hi_s, 1 + 0.95 * c.scale);

  // Five independent draws: over 2000 seeds no two parameters correlate (a reused draw,
  // e.g. ty = tx, gives correlation 1; the bound is ~4.5 standard errors of 1/sqrt(2000)).
  std::vector<std::array<double, 5>> draws;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Rng rng(seed);
    const AffineParams a = affine_draw(c, rng);
    draws.push_back({a.rotate_deg, a.scale, a.shear, a.tx, a.ty});
  }
  for (int p = 0; p < 5; ++p)
    for (int q = p + 1; q < 5; ++q) {
      double mp = 0, mq = 0, spq = 0, spp = 0, sqq = 0;
      for (const auto& d : draws) mp += d[p], mq += d[q];
      mp /= double(draws.size()), mq /= double(draws.size());
      for (const auto& d : draws) {
        spq += (d[p] - mp) * (d[q] - mq);
        spp += (d[p] - mp) * (d[p] - mp);
        sqq += (d[q] - mq) * (d[q] - mq);
      }
      EXPECT_LT(std::abs(spq / std::sqrt(spp * sqq)), 0.1) << "parameters " << p << " and " << q;
    }

  // A zero range still consumes its draw: switching rotation off leaves the shift alone.
  AugmentConfig no_rot = c;
  no_rot.rotate_deg = 0;
  Rng r1(7), r2(7);
  const AffineParams with = affine_draw(c, r1), without = affine_draw(no_rot, r2);
  EXPECT_EQ(without.rotate_deg, 0);
  EXPECT_NE(with.rotate_deg, 0);
  EXPECT_EQ(with.tx, without.tx);
  EXPECT_EQ(with.ty, without.ty);
  EXPECT_EQ(r1.next(), r2.next());  // and both consumed exactly five draws
}

TEST(GaussianKernel, NormalisedSymmetricTruncatedAtThreeSigma) {
  for (double sigma : {0.5, 4.0, 6.0}) {
    const std::vector<float> k = gaussian_kernel(sigma);
    const int r = int(std::ceil(3 * sigma));
    ASSERT_EQ(k.size(), size_t(2 * r + 1)) << sigma;
    double sum = 0;
    for (float v : k) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-6) << sigma;
    for (int j = 0; j < r; ++j) EXPECT_EQ(k[size_t(j)], k[size_t(2 * r - j)]) << sigma;
    // The shape: neighbouring taps differ by the Gaussian's factor.
    EXPECT_NEAR(k[size_t(r + 1)] / k[size_t(r)], std::exp(-0.5 / (sigma * sigma)), 1e-6) << sigma;
  }
}

// The separable, vectorised smoothing against a direct 2-D convolution in double.
TEST(FieldSmooth, MatchesDirectTwoDimensionalConvolution) {
  struct Case {
    uint32_t rows, cols;
    double sigma;
  };
  for (const Case& cs : {Case{28, 28, 6}, Case{28, 28, 4}, Case{7, 40, 2}, Case{1, 5, 1}, Case{33, 17, 0.7}}) {
    const std::vector<float> k = gaussian_kernel(cs.sigma);
    const int r = int(k.size() / 2), h = int(cs.rows), w = int(cs.cols);
    Rng rng(cs.rows * 1000 + cs.cols);
    std::vector<float> field(size_t(h) * w);
    for (auto& v : field) v = float(2 * rng.uniform() - 1);
    std::vector<double> want(field.size(), 0.0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int i = -r; i <= r; ++i)
          for (int j = -r; j <= r; ++j)
            if (y + i >= 0 && y + i < h && x + j >= 0 && x + j < w)
              want[size_t(y) * w + x] += double(k[size_t(i + r)]) * k[size_t(j + r)] * field[size_t(y + i) * w + x + j];
    field_smooth(k, cs.rows, cs.cols, field.data());
    double worst = 0;
    for (size_t i = 0; i < field.size(); ++i) worst = std::max(worst, std::abs(field[i] - want[i]));
    EXPECT_LT(worst, 1e-6) << cs.rows << "x" << cs.cols << " sigma " << cs.sigma;
  }
}

TEST(ImageWarp, IdentityGivesTheInputBackExactly) {
  for (auto [rows, cols] : {std::pair{28u, 28u}, {13u, 17u}, {1u, 1u}, {2u, 3u}, {300u, 5u}}) {
    const std::vector<uint8_t> src = noise_image(rows, cols, rows + cols);
    std::vector<float> dst(src.size(), -1.f), zero(src.size(), 0.f);
    image_warp(AffineParams{}, nullptr, nullptr, src.data(), rows, cols, dst.data());
    for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(dst[i], float(src[i])) << rows << "x" << cols << " pixel " << i;
    // The general path with an all-zero field, too.
    image_warp(AffineParams{}, zero.data(), zero.data(), src.data(), rows, cols, dst.data());
    for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(dst[i], float(src[i])) << rows << "x" << cols << " pixel " << i;
  }
}

TEST(Augment, DisabledConfigGivesTheInputBackExactly) {
  const std::vector<uint8_t> src = noise_image(28, 28, 1);
  std::vector<float> dst(src.size());
  AugmentConfig c;
  c.elastic_sigma = 6;
  for (uint64_t seed : {0ull, 1ull, 12345ull}) {
    augment_image(c, seed, src.data(), 28, 28, dst.data());
    for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(dst[i], float(src[i])) << "seed " << seed << " pixel " << i;
  }
}

// Content moves by (tx, ty): dst(y, x) = src(y - ty, x - tx), zero where that is outside.
TEST(ImageWarp, IntegerTranslationMovesPixelsExactly) {
  const uint32_t rows = 20, cols = 28;
  const std::vector<uint8_t> src = noise_image(rows, cols, 3);
  std::vector<float> dst(src.size());
  for (auto [tx, ty] : {std::pair{3, -2}, {-5, 0}, {0, 7}, {1, 1}, {int(cols), 0}}) {
    AffineParams a;
    a.tx = tx;
    a.ty = ty;
    image_warp(a, nullptr, nullptr, src.data(), rows, cols, dst.data());
    for (int y = 0; y < int(rows); ++y)
      for (int x = 0; x < int(cols); ++x) {
        const int sy = y - ty, sx = x - tx;
        const bool inside = sy >= 0 && sy < int(rows) && sx >= 0 && sx < int(cols);
        const float want = inside ? float(src[size_t(sy) * cols + sx]) : 0.f;
        ASSERT_EQ(dst[size_t(y) * cols + x], want) << "shift " << tx << "," << ty << " at " << y << "," << x;
      }
  }
}

// About the centre of an N x N image, quarter turns map grid points to grid points.
// +90 (counter-clockwise on screen) moves the right edge to the top: dst(y, x) = src(x, N-1-y).
TEST(ImageWarp, QuarterTurnsMatchTransposesAndFlips) {
  for (uint32_t n : {28u, 9u}) {
    const std::vector<uint8_t> src = noise_image(n, n, n);
    const auto s = [&](uint32_t y, uint32_t x) { return float(src[size_t(y) * n + x]); };
    std::vector<float> dst(src.size());
    struct Turn {
      double deg;
      std::function<float(uint32_t, uint32_t)> want;
    };
    const Turn turns[] = {
        {90, [&](uint32_t y, uint32_t x) { return s(x, n - 1 - y); }},
        {-90, [&](uint32_t y, uint32_t x) { return s(n - 1 - x, y); }},
        {180, [&](uint32_t y, uint32_t x) { return s(n - 1 - y, n - 1 - x); }},
    };
    for (const Turn& t : turns) {
      AffineParams a;
      a.rotate_deg = t.deg;
      image_warp(a, nullptr, nullptr, src.data(), n, n, dst.data());
      // cos(90 deg) is 6e-17, not 0, in floating point: allow that residue, nothing more.
      for (uint32_t y = 0; y < n; ++y)
        for (uint32_t x = 0; x < n; ++x)
          ASSERT_NEAR(dst[size_t(y) * n + x], t.want(y, x), 1e-3) << n << "x" << n << " turn " << t.deg << " at " << y
                                                                  << "," << x;
    }
  }
}

// Scale 2 about the centre: the output's centre pixel(s) come from the centre, and a
// point d from the centre comes from d/2 (bilinear mean of two pixels when d/2 is a half).
TEST(ImageWarp, ScaleMagnifiesAboutTheCentre) {
  const uint32_t n = 9;  // centre pixel (4, 4)
  const std::vector<uint8_t> src = noise_image(n, n, 5);
  std::vector<float> dst(src.size());
  AffineParams a;
  a.scale = 2;
  image_warp(a, nullptr, nullptr, src.data(), n, n, dst.data());
  const auto s = [&](uint32_t y, uint32_t x) { return float(src[size_t(y) * n + x]); };
  EXPECT_EQ(dst[4 * n + 4], s(4, 4));
  EXPECT_EQ(dst[4 * n + 6], s(4, 5));  // 2 right of centre <- 1 right
  EXPECT_EQ(dst[0 * n + 4], s(2, 4));  // 4 above <- 2 above
  EXPECT_FLOAT_EQ(dst[4 * n + 5], 0.5f * (s(4, 4) + s(4, 5)));  // 1 right <- 0.5 right
}

// Shear h moves each row sideways by h times its offset from the centre row:
// x' = x + h (y - cy). With h = +-1 and an odd size the shifts are whole pixels.
TEST(ImageWarp, ShearShiftsRowsInProportionToTheirOffset) {
  const uint32_t n = 9;  // centre row 4
  const std::vector<uint8_t> src = noise_image(n, n, 12);
  std::vector<float> dst(src.size());
  for (int h : {1, -1}) {
    AffineParams a;
    a.shear = h;
    image_warp(a, nullptr, nullptr, src.data(), n, n, dst.data());
    for (int y = 0; y < int(n); ++y)
      for (int x = 0; x < int(n); ++x) {
        const int sx = x - h * (y - 4);
        const float want = sx >= 0 && sx < int(n) ? float(src[size_t(y) * n + sx]) : 0.f;
        ASSERT_EQ(dst[size_t(y) * n + x], want) << "shear " << h << " at " << y << "," << x;
      }
  }
}

// The elastic field displaces the source lookup: a constant field of (+1, 0) reads one
// pixel to the right, i.e. moves content one pixel left.
TEST(ImageWarp, ConstantFieldShiftsLikeATranslation) {
  const uint32_t rows = 12, cols = 10;
  const std::vector<uint8_t> src = noise_image(rows, cols, 11);
  std::vector<float> dx(src.size(), 1.f), dy(src.size(), 0.f), got(src.size()), want(src.size());
  image_warp(AffineParams{}, dx.data(), dy.data(), src.data(), rows, cols, got.data());
  AffineParams left;
  left.tx = -1;
  image_warp(left, nullptr, nullptr, src.data(), rows, cols, want.data());
  EXPECT_EQ(got, want);
}

TEST(ImageWarp, StaysWithinPixelRangeUnderExtremeDistortion) {
  const uint32_t rows = 28, cols = 28;
  std::vector<uint8_t> src = noise_image(rows, cols, 4);
  for (size_t i = 0; i < src.size(); i += 3) src[i] = 255;  // many full-ink neighbours: rounding could overshoot
  Rng rng(9);
  std::vector<float> dx(src.size()), dy(src.size()), dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    dx[i] = float(40 * rng.uniform() - 20);
    dy[i] = float(40 * rng.uniform() - 20);
  }
  AffineParams a;
  a.rotate_deg = 170;
  a.scale = 0.3;
  a.shear = 0.9;
  a.tx = 7.3;
  a.ty = -11.1;
  image_warp(a, dx.data(), dy.data(), src.data(), rows, cols, dst.data());
  for (float v : dst) {
    ASSERT_TRUE(std::isfinite(v));
    ASSERT_GE(v, 0.f);
    ASSERT_LE(v, 255.f);
  }
  // Coordinates a hair below a grid point: floor by truncation lands one pixel high and
  // the fraction comes out slightly negative; unclamped, 0 next to 255 would give -2.5e-6.
  std::vector<uint8_t> edge(size_t(rows) * cols, 0);
  for (uint32_t y = 0; y < rows; ++y) edge[size_t(y) * cols + 1] = 255;
  std::vector<float> hair(src.size(), -1e-8f), none(src.size(), 0.f);  // -1e-8 + 2 rounds to 2
  image_warp(AffineParams{}, hair.data(), none.data(), edge.data(), rows, cols, dst.data());
  for (float v : dst) ASSERT_GE(v, 0.f);
  // A NaN displacement (never produced by Augmenter) gives a zero pixel, not a NaN one.
  dx[5] = NAN;
  image_warp(a, dx.data(), dy.data(), src.data(), rows, cols, dst.data());
  EXPECT_EQ(dst[5], 0.f);
}

TEST(Augment, DeterministicGivenTheSeedAndDifferentOtherwise) {
  const std::vector<uint8_t> src = noise_image(28, 28, 8);
  const Augmenter aug(best_config());
  std::vector<float> a(src.size()), b(src.size());
  std::set<uint64_t> seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    aug.apply(seed, src.data(), 28, 28, a.data());
    aug.apply(seed, src.data(), 28, 28, b.data());
    ASSERT_EQ(fnv1a(a.data(), a.size()), fnv1a(b.data(), b.size())) << "seed " << seed;
    ASSERT_EQ(a, b) << "seed " << seed;
    EXPECT_TRUE(seen.insert(fnv1a(a.data(), a.size())).second) << "seed " << seed << " repeats another seed";
  }
  // Each part alone is random too (a part that ignored its draws would repeat here).
  for (int part = 0; part < 5; ++part) {
    AugmentConfig c;
    (part == 0 ? c.rotate_deg : part == 1 ? c.scale : part == 2 ? c.shear : part == 3 ? c.translate : c.elastic_alpha) =
        part == 4 ? 34 : 0.1 * (part + 1);
    const Augmenter one(c);
    one.apply(1, src.data(), 28, 28, a.data());
    one.apply(2, src.data(), 28, 28, b.data());
    EXPECT_NE(a, b) << "part " << part;
  }
}

// The bits themselves, pinned: ranks on different CPUs (AVX-512, AVX2 or SSE2 code
// paths, any -march) must agree, so the value may change only with the algorithm or the
// draws (update it then, and say so). Checked on this machine against SSE2-only, -O0 and
// -march=native builds; allowing FMA contraction changes it, which is why src/augment.cpp
// turns contraction off. It relies on libm's sin, cos and exp agreeing too.
TEST(Augment, SameBitsOnEveryMachine) {
  AugmentConfig c = best_config();
  const Augmenter aug(c);
  uint64_t h = 0;
  std::vector<float> dst(28 * 28);
  for (uint64_t i = 0; i < 20; ++i) {
    const std::vector<uint8_t> src = noise_image(28, 28, 100 + i);
    aug.apply(seed_derive(5, 1, i), src.data(), 28, 28, dst.data());
    h = h * 31 + fnv1a(dst.data(), dst.size());
  }
  EXPECT_EQ(h, 0x29b015ca319a56f8ull) << std::hex << "got 0x" << h;
}

// Ink mass = sum of pixels, compared as dst / (src * s^2): scale s multiplies areas by
// s^2, rotation and shear keep them (det 1), a shift keeps them unless ink leaves the
// image. Elastic fields keep mass only on average: they compress and stretch strokes
// locally (the field's divergence has a std of ~0.16 at alpha 36, sigma 6), so single
// digits gain or lose 10-15% (std), but the mean over digits stays within 0.5%.
// Measured on the first 500 training digits (seeds seed_derive(1, 0, i)):
//   rotation+shear |dev| max 0.008;  affine max 0.11, mean -0.004, std 0.013;
//   elastic 36/6 max 0.31, mean -0.003, std 0.094;  elastic 34/4 max 0.56, mean -0.005,
//   std 0.16;  affine + elastic 36/6 max 0.29, mean -0.004, std 0.095.
// The bounds leave room for that spread (the mean's bound is ~4 standard errors), yet a
// wrong Jacobian (1/s^2 for s^2), a doubled or unsmoothed field, or a one-sided shift fails them.
TEST(Augment, KeepsTheInkMassOfRealDigits) {
  const Dataset& ds = mnist_train();
  ASSERT_GE(ds.count, 500u);
  struct Case {
    const char* name;
    AugmentConfig cfg;
    double max_dev, mean_dev, std_dev;  // bounds on max |ratio - 1|, |mean(ratio - 1)|, std(ratio)
  };
  AugmentConfig area;
  area.rotate_deg = 15;
  area.shear = 0.2;
  AugmentConfig affine = best_config();
  affine.elastic_alpha = 0;
  AugmentConfig elastic;
  elastic.elastic_alpha = 36;
  elastic.elastic_sigma = 6;
  AugmentConfig simard;
  simard.elastic_alpha = 34;
  simard.elastic_sigma = 4;
  const Case cases[] = {{"rotation+shear", area, 0.02, 0.002, 0.005},
                        {"affine", affine, 0.15, 0.01, 0.03},
                        {"elastic 36/6", elastic, 0.45, 0.02, 0.13},
                        {"elastic 34/4", simard, 0.80, 0.03, 0.22},
                        {"best", best_config(), 0.45, 0.02, 0.13}};
  const size_t n = 500;
  std::vector<float> dst(ds.features()), src_f(ds.features());
  for (const Case& cs : cases) {
    const Augmenter aug(cs.cfg);
    double worst = 0, sum = 0, sum_sq = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* src = ds.image(i);
      for (size_t k = 0; k < ds.features(); ++k) src_f[k] = src[k];
      const uint64_t seed = seed_derive(1, 0, i);
      aug.apply(seed, src, ds.rows, ds.cols, dst.data());
      Rng rng(seed);
      const double s = affine_draw(cs.cfg, rng).scale;  // the stream's first draws, as documented
      const double dev = mass(dst.data(), dst.size()) / (mass(src_f.data(), src_f.size()) * s * s) - 1;
      worst = std::max(worst, std::abs(dev));
      sum += dev;
      sum_sq += dev * dev;
    }
    const double mean = sum / double(n), sd = std::sqrt(std::max(0.0, sum_sq / double(n) - mean * mean));
    EXPECT_LT(worst, cs.max_dev) << cs.name;
    EXPECT_LT(std::abs(mean), cs.mean_dev) << cs.name;
    EXPECT_LT(sd, cs.std_dev) << cs.name;
    // Elastic distortion is supposed to change strokes: a field that does nothing fails too.
    if (cs.cfg.elastic_alpha > 0) {
      EXPECT_GT(sd, 0.03) << cs.name << ": the elastic field barely moves anything";
    }
  }
}

TEST(Augment, RealDigitsStayWithinRangeUnderStrongSettings) {
  const Dataset& ds = mnist_train();
  ASSERT_GE(ds.count, 200u);
  AugmentConfig strong;
  strong.rotate_deg = 45;
  strong.scale = 0.5;
  strong.shear = 0.5;
  strong.translate = 6;
  strong.elastic_alpha = 80;
  strong.elastic_sigma = 3;
  const Augmenter aug(strong);
  std::vector<float> dst(ds.features());
  for (size_t i = 0; i < 200; ++i) {
    aug.apply(seed_derive(2, 0, i), ds.image(i), ds.rows, ds.cols, dst.data());
    for (float v : dst) {
      ASSERT_TRUE(std::isfinite(v)) << "image " << i;
      ASSERT_GE(v, 0.f) << "image " << i;
      ASSERT_LE(v, 255.f) << "image " << i;
    }
  }
}

// IDX sets need not be 28x28: tiny, thin and large images work and stay in range.
TEST(Augment, AnyImageSize) {
  const Augmenter aug(best_config());
  for (auto [rows, cols] : {std::pair{1u, 1u}, {3u, 50u}, {50u, 3u}, {64u, 48u}}) {
    const std::vector<uint8_t> src = noise_image(rows, cols, 6);
    std::vector<float> a(src.size()), b(src.size());
    aug.apply(5, src.data(), rows, cols, a.data());
    aug.apply(5, src.data(), rows, cols, b.data());
    EXPECT_EQ(a, b) << rows << "x" << cols;
    for (float v : a) {
      ASSERT_TRUE(std::isfinite(v) && v >= 0.f && v <= 255.f) << rows << "x" << cols;
    }
  }
}

TEST(BatchGatherAugmented, DisabledConfigGivesBatchGathersBytes) {
  const Dataset ds = head(mnist_train(), 64);
  ASSERT_EQ(ds.count, 64u);
  const InputNorm norm{0.1307f, 0.3081f};
  const std::vector<uint32_t> idx = {5, 0, 63, 17, 17, 2};
  std::vector<float> want(idx.size() * ds.features()), got(want.size(), -7.f);
  std::vector<int32_t> want_labels(idx.size()), got_labels(idx.size(), -1);
  batch_gather(ds, norm, idx.data(), idx.size(), want.data(), want_labels.data());
  batch_gather_augmented(ds, norm, AugmentConfig{}, 1, 3, idx.data(), idx.size(), got.data(), got_labels.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(got_labels, want_labels);
}

// Sample idx[i] of a batch = augment_image(seed_derive(seed, epoch, idx[i])) normalised,
// whatever the batch size, the order and the number of OpenMP threads.
TEST(BatchGatherAugmented, SampleDependsOnlyOnSeedEpochAndIndex) {
  const Dataset ds = head(mnist_train(), 64);
  ASSERT_EQ(ds.count, 64u);
  const InputNorm norm{0.1307f, 0.3081f};
  const AugmentConfig cfg = best_config();
  const uint64_t seed = 42, epoch = 3;
  const size_t f = ds.features();
  const std::vector<uint32_t> idx = {9, 0, 63, 31, 9, 12, 40, 41, 1, 2, 3, 50, 7};
  const size_t n = idx.size();

  std::vector<float> want(n * f);
  for (size_t i = 0; i < n; ++i) {
    augment_image(cfg, seed_derive(seed, epoch, idx[i]), ds.image(idx[i]), ds.rows, ds.cols, &want[i * f]);
    for (size_t k = 0; k < f; ++k) want[i * f + k] = (want[i * f + k] / 255.f - norm.mean) / norm.std;
  }

  const int saved = omp_get_max_threads();
  std::vector<float> got(n * f);
  std::vector<int32_t> labels(n);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::fill(got.begin(), got.end(), 0.f);
    batch_gather_augmented(ds, norm, cfg, seed, epoch, idx.data(), n, got.data(), labels.data());
    EXPECT_EQ(got, want) << threads << " threads";
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(labels[i], ds.labels[idx[i]]);
  }
  omp_set_num_threads(saved);

  // One sample at a time, and the batch in reverse order.
  const Augmenter aug(cfg);
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> one(f);
    batch_gather_augmented(ds, norm, aug, seed, epoch, &idx[i], 1, one.data(), nullptr);
    EXPECT_TRUE(std::equal(one.begin(), one.end(), want.begin() + long(i * f))) << "sample " << i;
  }
  std::vector<uint32_t> rev(idx.rbegin(), idx.rend());
  batch_gather_augmented(ds, norm, aug, seed, epoch, rev.data(), n, got.data(), nullptr);
  for (size_t i = 0; i < n; ++i)
    EXPECT_TRUE(std::equal(got.begin() + long(i * f), got.begin() + long((i + 1) * f),
                           want.begin() + long((n - 1 - i) * f)))
        << "reversed sample " << i;

  // The seed, the epoch and the index each change the sample (the same image under
  // two indices of a duplicated data set must not get the same distortion).
  std::vector<float> other(f);
  batch_gather_augmented(ds, norm, aug, seed + 1, epoch, idx.data(), 1, other.data(), nullptr);
  EXPECT_FALSE(std::equal(other.begin(), other.end(), want.begin())) << "seed ignored";
  batch_gather_augmented(ds, norm, aug, seed, epoch + 1, idx.data(), 1, other.data(), nullptr);
  EXPECT_FALSE(std::equal(other.begin(), other.end(), want.begin())) << "epoch ignored";
  Dataset twice = ds;  // image 0 again at index 64
  twice.images.insert(twice.images.end(), ds.images.begin(), ds.images.begin() + long(f));
  twice.labels.push_back(ds.labels[0]);
  twice.count += 1;
  std::vector<float> at0(f), at64(f);
  const uint32_t i0 = 0, i64 = 64;
  batch_gather_augmented(twice, norm, aug, seed, epoch, &i0, 1, at0.data(), nullptr);
  batch_gather_augmented(twice, norm, aug, seed, epoch, &i64, 1, at64.data(), nullptr);
  EXPECT_NE(at0, at64) << "index ignored";
}

// The trainer's data path for W = 1, 2 and 3 ranks (the real sharder, B % W != 0, a
// short last batch): every sample of the epoch hashes the same whichever rank made it.
TEST(BatchGatherAugmented, OneRankAndSplitRanksSeeIdenticalSamples) {
  const Dataset ds = head(mnist_train(), 100);
  ASSERT_EQ(ds.count, 100u);
  const InputNorm norm{0.1307f, 0.3081f};
  const Augmenter aug(best_config());
  const uint64_t seed = 7, epoch = 2;
  const size_t batch = 16, f = ds.features();  // 100 = 6 x 16 + 4

  const auto epoch_hashes = [&](int world) {
    std::map<uint32_t, uint64_t> hashes;  // sample index -> hash of its input vector
    const std::vector<uint32_t> perm = epoch_permutation(ds.count, seed, epoch);
    for (size_t step = 0; step < steps_per_epoch(ds.count, batch); ++step) {
      const Range b = batch_range(ds.count, batch, step);
      for (int rank = 0; rank < world; ++rank) {
        const Range mine = shard_range(b.size(), world, rank);
        const uint32_t* idx = perm.data() + b.begin + mine.begin;
        std::vector<float> x(mine.size() * f);
        batch_gather_augmented(ds, norm, aug, seed, epoch, idx, mine.size(), x.data(), nullptr);
        for (size_t i = 0; i < mine.size(); ++i) hashes[idx[i]] = fnv1a(&x[i * f], f);
      }
    }
    return hashes;
  };
  const auto one = epoch_hashes(1);
  ASSERT_EQ(one.size(), ds.count);
  EXPECT_EQ(epoch_hashes(2), one);
  EXPECT_EQ(epoch_hashes(3), one);
}

#include "digitnet/train/augment.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "digitnet/core/error.hpp"

// Bitwise-portable results (the same augmented sample on every rank, whatever its CPU)
// need every float operation rounded on its own: no a*b+c fused into one FMA, whatever
// -march a build uses. Vector width alone never changes a result here (no reductions
// are reordered), so the wider clones below compute the same bits as plain SSE2.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// Hot loops get AVX-512 and AVX2 clones, chosen at load time (glibc ifunc).
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DIGITNET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DIGITNET_CLONES
#endif

namespace digitnet {

bool AugmentConfig::enabled() const {
  return rotate_deg != 0 || scale != 0 || shear != 0 || translate != 0 || elastic_alpha != 0;
}

void AugmentConfig::validate() const {
  const auto check = [](double v, const char* name) {
    if (!std::isfinite(v) || v < 0)
      fail(ErrorKind::usage, std::string("augmentation: ") + name + " must be finite and >= 0");
  };
  check(rotate_deg, "rotation");
  check(scale, "scale");
  check(shear, "shear");
  check(translate, "translation");
  check(elastic_alpha, "elastic alpha");
  check(elastic_sigma, "elastic sigma");
  if (scale >= 1) fail(ErrorKind::usage, "augmentation: scale must be < 1 (the factor is drawn from [1-s, 1+s])");
  if (elastic_alpha > 0 && elastic_sigma <= 0) fail(ErrorKind::usage, "augmentation: elastic sigma must be > 0");
}

AffineParams affine_draw(const AugmentConfig& cfg, Rng& rng) {
  // Separate statements: the order of the draws is part of the format.
  const auto sym = [&rng](double range) { return range * (2.0 * rng.uniform() - 1.0); };
  AffineParams a;
  a.rotate_deg = sym(cfg.rotate_deg);
  a.scale = 1.0 + sym(cfg.scale);
  a.shear = sym(cfg.shear);
  a.tx = sym(cfg.translate);
  a.ty = sym(cfg.translate);
  return a;
}

std::vector<float> gaussian_kernel(double sigma) {
  const int r = std::max(1, int(std::ceil(3.0 * sigma)));
  std::vector<double> k(size_t(2 * r + 1));
  double sum = 0;
  for (int j = -r; j <= r; ++j) sum += k[size_t(j + r)] = std::exp(-0.5 * double(j) * double(j) / (sigma * sigma));
  std::vector<float> out(k.size());
  for (size_t j = 0; j < k.size(); ++j) out[j] = float(k[j] / sum);
  return out;
}

namespace {

// out (h, w) = in smoothed along its columns: out row y = sum over j of k[j] * in row
// (y + j - r), rows outside the field being zero. Tap by tap, the rows a tap reaches
// are one contiguous block, so each tap is one long vectorised multiply-add (short
// per-row loops cost more in overhead than in arithmetic at w = 28). Every output sums
// its taps in ascending j: the result does not depend on the vector width.
DIGITNET_CLONES void smooth_columns(const float* k, int r, int h, int w, const float* __restrict in,
                                    float* __restrict out) {
  std::fill(out, out + size_t(h) * w, 0.f);
  for (int j = 0; j <= 2 * r; ++j) {
    const int off = j - r;  // out row y takes in row y + off
    const int y_lo = std::max(0, -off), y_hi = std::min(h, h - off);
    if (y_lo >= y_hi) continue;
    const float kj = k[j];
    float* __restrict o = out + size_t(y_lo) * w;
    const float* __restrict s = in + size_t(y_lo + off) * w;
    const size_t len = size_t(y_hi - y_lo) * w;
    for (size_t i = 0; i < len; ++i) o[i] += kj * s[i];
  }
}

// dst (w, h) = src (h, w) transposed.
void transpose(const float* __restrict src, int h, int w, float* __restrict dst) {
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) dst[size_t(x) * h + y] = src[size_t(y) * w + x];
}

// The source as floats inside a two-pixel zero border (rows of cols + 4): clamped
// coordinates read zeros, so sampling needs neither bounds checks nor branches.
DIGITNET_CLONES float* padded_source(const uint8_t* src, uint32_t rows, uint32_t cols) {
  const size_t pw = size_t(cols) + 4;
  if (pw * (size_t(rows) + 4) > size_t(INT32_MAX)) fail(ErrorKind::data, "augmentation: image too large");
  thread_local std::vector<float> pad_buf;
  pad_buf.assign(pw * (size_t(rows) + 4), 0.f);
  float* __restrict pad = pad_buf.data();
  for (uint32_t y = 0; y < rows; ++y) {
    float* __restrict p = pad + (y + 2) * pw + 2;
    const uint8_t* __restrict q = src + size_t(y) * cols;
    for (uint32_t x = 0; x < cols; ++x) p[x] = float(q[x]);
  }
  return pad;
}

}  // namespace

void field_smooth(const std::vector<float>& kernel, uint32_t rows, uint32_t cols, float* field) {
  const int r = int(kernel.size() / 2), h = int(rows), w = int(cols);
  const size_t n = size_t(rows) * cols;
  thread_local std::vector<float> buf;
  buf.resize(2 * n);
  float* a = buf.data();
  float* b = a + n;
  // Columns, then rows as the columns of the transpose.
  smooth_columns(kernel.data(), r, h, w, field, a);
  transpose(a, h, w, b);
  smooth_columns(kernel.data(), r, w, h, b, a);
  transpose(a, w, h, field);
}

DIGITNET_CLONES void image_warp(const AffineParams& a, const float* dx, const float* dy, const uint8_t* src,
                                uint32_t rows, uint32_t cols, float* dst) {
  // Inverse of A = R(theta) * Shear(h) * s: (1/s) * Shear(-h) * R(-theta), with
  // R(theta) = [[cos, sin], [-sin, cos]] (counter-clockwise on screen, y pointing down).
  const double theta = a.rotate_deg * (3.141592653589793 / 180.0);
  const double c = std::cos(theta), s = std::sin(theta), inv = 1.0 / a.scale;
  const float m00 = float((c - a.shear * s) * inv), m01 = float((-s - a.shear * c) * inv);
  const float m10 = float(s * inv), m11 = float(c * inv);
  const float cx = float((double(cols) - 1.0) / 2.0), cy = float((double(rows) - 1.0) / 2.0);
  const float tx = float(a.tx), ty = float(a.ty);
  // Beyond these bounds all four taps fall in the zero border.
  const float x_min = -1.5f, x_max = float(cols) + 0.5f, y_min = -1.5f, y_max = float(rows) + 0.5f;

  const size_t n = size_t(rows) * cols, pw = size_t(cols) + 4;
  const float* __restrict pad = padded_source(src, rows, cols);
  thread_local std::vector<float> work_buf;
  thread_local std::vector<int32_t> at_buf;
  work_buf.resize(6 * n);
  at_buf.resize(n);
  float* __restrict fxs = work_buf.data();  // per output pixel: fractions, the four taps
  float* __restrict fys = fxs + n;
  float* __restrict t00 = fys + n;
  float* __restrict t01 = t00 + n;
  float* __restrict t10 = t01 + n;
  float* __restrict t11 = t10 + n;
  int32_t* __restrict at = at_buf.data();  // index of the top-left tap in pad

  // Passes over the whole image, all but the tap loads vectorised: source coordinates,
  // the field's displacement, taps and fractions, the four taps, the blend.
  float* __restrict sxs = fxs;  // the coordinates, overwritten by the fractions
  float* __restrict sys = fys;
  for (uint32_t y = 0; y < rows; ++y) {
    const size_t row = size_t(y) * cols;
    const float v = float(y) - cy - ty;
    const float bx = m01 * v + cx, by = m11 * v + cy;
    for (uint32_t x = 0; x < cols; ++x) {
      const float u = float(x) - cx - tx;
      sxs[row + x] = m00 * u + bx;
      sys[row + x] = m10 * u + by;
    }
  }
  if (dx)
    for (size_t i = 0; i < n; ++i) sxs[i] += dx[i];
  if (dy)
    for (size_t i = 0; i < n; ++i) sys[i] += dy[i];
  const int32_t pwi = int32_t(pw);
  for (size_t i = 0; i < n; ++i) {
    // Clamp into the border; written so that NaN clamps too.
    float sx = sxs[i] > x_min ? sxs[i] : x_min, sy = sys[i] > y_min ? sys[i] : y_min;
    sx = sx < x_max ? sx : x_max;
    sy = sy < y_max ? sy : y_max;
    // floor() without a libm call: sx + 2 > 0, so truncation is floor. When the
    // addition rounds up to the next integer, the fraction comes out a hair below
    // zero; clamping it keeps the result a convex combination of the taps.
    const int32_t x0 = int32_t(sx + 2.f) - 2, y0 = int32_t(sy + 2.f) - 2;
    const float fx = sx - float(x0), fy = sy - float(y0);
    fxs[i] = fx > 0.f ? fx : 0.f;
    fys[i] = fy > 0.f ? fy : 0.f;
    at[i] = (y0 + 2) * pwi + x0 + 2;
  }
  for (size_t i = 0; i < n; ++i) {
    const float* p = pad + at[i];
    t00[i] = p[0];
    t01[i] = p[1];
    t10[i] = p[pw];
    t11[i] = p[pw + 1];
  }
  for (size_t i = 0; i < n; ++i) {
    // a + f (b - a): exact at f = 0 and, rounding being monotone, never outside [a, b].
    const float top = t00[i] + fxs[i] * (t01[i] - t00[i]);
    const float bot = t10[i] + fxs[i] * (t11[i] - t10[i]);
    dst[i] = top + fys[i] * (bot - top);
  }
}

Augmenter::Augmenter(const AugmentConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  if (cfg_.elastic_alpha > 0) kernel_ = gaussian_kernel(cfg_.elastic_sigma);
}

void Augmenter::apply(uint64_t seed, const uint8_t* src, uint32_t rows, uint32_t cols, float* dst) const {
  const size_t n = size_t(rows) * cols;
  if (!cfg_.enabled()) {
    for (size_t i = 0; i < n; ++i) dst[i] = float(src[i]);
    return;
  }
  Rng rng(seed);
  const AffineParams affine = affine_draw(cfg_, rng);
  if (kernel_.empty()) {
    image_warp(affine, nullptr, nullptr, src, rows, cols, dst);
    return;
  }
  // dx then dy, row-major, each value uniform(-1, 1) on a 2^-23 grid: two 24-bit
  // halves per 64-bit draw (exact in float, the same on every platform).
  thread_local std::vector<float> field_buf;
  field_buf.resize(2 * n);
  float* field = field_buf.data();
  for (size_t i = 0; i < 2 * n; i += 2) {
    const uint64_t bits = rng.next();
    field[i] = float(uint32_t(bits >> 40)) * 0x1p-23f - 1.f;
    field[i + 1] = float(uint32_t(bits >> 8) & 0xffffffu) * 0x1p-23f - 1.f;
  }
  field_smooth(kernel_, rows, cols, field);
  field_smooth(kernel_, rows, cols, field + n);
  const float alpha = float(cfg_.elastic_alpha);
  for (size_t i = 0; i < 2 * n; ++i) field[i] *= alpha;
  image_warp(affine, field, field + n, src, rows, cols, dst);
}

void augment_image(const AugmentConfig& cfg, uint64_t seed, const uint8_t* src, uint32_t rows, uint32_t cols,
                   float* dst) {
  Augmenter(cfg).apply(seed, src, rows, cols, dst);
}

void batch_gather_augmented(const Dataset& ds, const InputNorm& norm, const Augmenter& aug, uint64_t seed,
                            uint64_t epoch, const uint32_t* idx, size_t n, float* dst, int32_t* labels) {
  const size_t f = ds.features();
  // Static schedule: every sample costs the same. The default thread count is the
  // caller's omp_get_max_threads(); nested in a parallel region this runs serially.
#pragma omp parallel for schedule(static) if (n > 1)
  for (size_t i = 0; i < n; ++i) {
    float* d = dst + i * f;
    aug.apply(seed_derive(seed, epoch, idx[i]), ds.image(idx[i]), ds.rows, ds.cols, d);
    // The same expression as batch_gather's table: a disabled config gives its bytes.
    for (size_t k = 0; k < f; ++k) d[k] = (d[k] / 255.f - norm.mean) / norm.std;
    if (labels) labels[i] = ds.labels[idx[i]];
  }
}

void batch_gather_augmented(const Dataset& ds, const InputNorm& norm, const AugmentConfig& cfg, uint64_t seed,
                            uint64_t epoch, const uint32_t* idx, size_t n, float* dst, int32_t* labels) {
  batch_gather_augmented(ds, norm, Augmenter(cfg), seed, epoch, idx, n, dst, labels);
}

}  // namespace digitnet

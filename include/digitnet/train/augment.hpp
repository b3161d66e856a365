// On-the-fly data augmentation: random affine and elastic distortions of u8 images.
//
// Every distortion is a function of a 64-bit seed only; batch_gather_augmented derives
// that seed from (seed, epoch, sample index), so an augmented sample is bitwise the same
// on 1 or W ranks and with any number of threads (issue 5).
//
// One combined inverse mapping per output pixel p (x = column, y = row, centre c):
//   src(p) = c + A^-1 (p - c - t) + alpha * d(p),   A = R(theta) * Shear(h) * s,
// sampled with bilinear interpolation, zero outside the image. d is Simard et al.
// (2003)'s displacement field: uniform(-1, 1) noise per pixel and axis, smoothed by a
// Gaussian of std sigma. One interpolation for the whole distortion: no double blur.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/core/rng.hpp"

namespace digitnet {

// Ranges of the random distortion; all zero means none. Values in pixels are absolute,
// so the same settings mean more on small images than on large ones.
struct AugmentConfig {
  double rotate_deg = 0;     // rotation uniform in [-r, r] degrees (positive: counter-clockwise on screen)
  double scale = 0;          // isotropic scale uniform in [1-s, 1+s], s < 1
  double shear = 0;          // horizontal shear factor uniform in [-h, h] (x' = x + h y)
  double translate = 0;      // shift uniform in [-t, t] pixels, independently per axis
  double elastic_alpha = 0;  // strength of the elastic field in pixels (0 = off); Simard: 34 at sigma 4
  double elastic_sigma = 4;  // std in pixels of the Gaussian that smooths the random field

  bool enabled() const;
  // Throws Error(usage) for negative or non-finite values, scale >= 1, or sigma <= 0 with alpha > 0.
  void validate() const;
};

// The affine part of one distortion (what was drawn, not the ranges).
struct AffineParams {
  double rotate_deg = 0;
  double scale = 1;
  double shear = 0;
  double tx = 0, ty = 0;  // pixels, +x right, +y down
};

// The first five draws of a distortion's stream, always all five and in this order:
// rotation, scale, shear, tx, ty (each range * (2u - 1), u = rng.uniform()). A range of
// zero still consumes its draw, so switching one distortion off leaves the others alone.
AffineParams affine_draw(const AugmentConfig& cfg, Rng& rng);

// Normalised Gaussian taps of std sigma: 2R+1 of them, R = ceil(3 sigma), sum 1.
std::vector<float> gaussian_kernel(double sigma);

// Smooths a row-major rows x cols field in place with the separable kernel
// (2R+1 taps, centre R), zero outside the field (the field fades at the borders,
// where MNIST has no ink anyway). Columns first, then rows; the order of the sums is fixed.
void field_smooth(const std::vector<float>& kernel, uint32_t rows, uint32_t cols, float* field);

// Distorts src (rows x cols u8) into dst (rows x cols floats in [0, 255]) by the mapping
// above with alpha * d = (dx, dy) (rows x cols each, pixels; both null = no field).
// Identity parameters without a field reproduce src exactly, and so do integer shifts;
// quarter turns match up to the rounding of cos(90 deg) (~1e-12). Images up to 2^31
// pixels with their border (else Error(data)).
void image_warp(const AffineParams& affine, const float* dx, const float* dy, const uint8_t* src,
                uint32_t rows, uint32_t cols, float* dst);

// A validated configuration with its Gaussian kernel computed once. apply() is
// const and keeps its scratch per thread, so one Augmenter serves every thread.
class Augmenter {
 public:
  explicit Augmenter(const AugmentConfig& cfg);  // validates cfg
  const AugmentConfig& config() const { return cfg_; }

  // The distortion for `seed`: Rng(seed) gives affine_draw's five numbers, then (only
  // when alpha > 0) rows*cols uniform(-1, 1) values for dx and as many for dy, row-major,
  // two per Rng::next() (its top and low 24-bit halves). A disabled config copies src.
  void apply(uint64_t seed, const uint8_t* src, uint32_t rows, uint32_t cols, float* dst) const;

 private:
  AugmentConfig cfg_;
  std::vector<float> kernel_;  // empty when the elastic part is off
};

// One image, for tests and tools (builds the kernel on every call; use Augmenter in loops).
void augment_image(const AugmentConfig& cfg, uint64_t seed, const uint8_t* src, uint32_t rows, uint32_t cols,
                   float* dst);

// Like batch_gather: samples idx[0..n) into dst (n, features), normalised
// x = (v/255 - mean)/std, labels if non-null. Sample idx[i] is distorted with
// seed_derive(seed, epoch, idx[i]), so it depends on (seed, epoch, sample index) only,
// never on rank, shard, batch position or thread count. A disabled config gives
// batch_gather's bytes exactly.
// Parallel over samples with omp_get_max_threads() threads (serial for n = 1, inside an
// active parallel region, and on a Prefetcher thread, which has 1 OpenMP thread by default).
void batch_gather_augmented(const Dataset& ds, const InputNorm& norm, const Augmenter& aug, uint64_t seed,
                            uint64_t epoch, const uint32_t* idx, size_t n, float* dst, int32_t* labels);
// The same, building the Augmenter per call (~1 us for the kernel).
void batch_gather_augmented(const Dataset& ds, const InputNorm& norm, const AugmentConfig& cfg, uint64_t seed,
                            uint64_t epoch, const uint32_t* idx, size_t n, float* dst, int32_t* labels);

}  // namespace digitnet

// A portable PRNG: the same seed gives the same stream with every compiler and
// standard library (std::shuffle and the std:: distributions do not).
#pragma once
#include <cstdint>

namespace digitnet {

// splitmix64 step: used to seed xoshiro and to derive independent stream seeds.
uint64_t splitmix64(uint64_t& state);

// Seed of an independent stream for (seed, a, b), e.g. (seed, epoch, sample).
uint64_t seed_derive(uint64_t seed, uint64_t a, uint64_t b = 0);

// xoshiro256** (Blackman & Vigna): small state, passes BigCrush.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased (Lemire's method)
  double uniform();            // uniform in [0, 1), 53 bits
  double normal();             // standard normal (Box-Muller, no cached second value)

 private:
  uint64_t s_[4];
};

}  // namespace digitnet

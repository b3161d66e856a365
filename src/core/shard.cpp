#include "digitnet/core/shard.hpp"

#include <algorithm>
#include <numeric>

#include "digitnet/core/rng.hpp"

namespace digitnet {

std::vector<uint32_t> epoch_permutation(size_t count, uint64_t seed, uint64_t epoch) {
  std::vector<uint32_t> perm(count);
  std::iota(perm.begin(), perm.end(), 0u);
  // Fisher-Yates with our own PRNG, so every platform gives the same order.
  Rng rng(seed_derive(seed, 0x5045524dULL /* "PERM" */, epoch));
  for (size_t i = count; i > 1; --i) {
    const size_t j = rng.below(i);
    std::swap(perm[i - 1], perm[j]);
  }
  return perm;
}

size_t steps_per_epoch(size_t count, size_t batch) { return batch ? (count + batch - 1) / batch : 0; }

Range batch_range(size_t count, size_t batch, size_t step) {
  const size_t begin = std::min(count, step * batch);
  return {begin, std::min(count, begin + batch)};
}

Range shard_range(size_t len, int world, int rank) {
  const size_t w = size_t(world), r = size_t(rank);
  const size_t base = len / w, extra = len % w;
  const size_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

}  // namespace digitnet

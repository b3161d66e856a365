// Sharding of every global batch across ranks (DESIGN.md invariant 1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace digitnet {

struct Range {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};

// Order of the samples in an epoch: the same on every rank, from (seed, epoch) only.
std::vector<uint32_t> epoch_permutation(size_t count, uint64_t seed, uint64_t epoch);

// Steps in an epoch: the last batch may be short; it is trained on, not dropped.
size_t steps_per_epoch(size_t count, size_t batch);

// Positions [begin, end) in the epoch's permutation of global batch `step`.
Range batch_range(size_t count, size_t batch, size_t step);

// The part of a batch of `len` samples that `rank` of `world` trains on:
// contiguous, sizes differ by at most one, the first len % world ranks get one more.
Range shard_range(size_t len, int world, int rank);

}  // namespace digitnet

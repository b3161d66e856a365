// Timing for the benchmark programs: the median of repeated runs after a warm-up.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace digitnet::bench {

// Median seconds of reps calls of f, after one untimed call (primitive
// creation, page faults, thread start-up).
template <class F>
double median_seconds(int reps, F&& f) {
  f();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(t.begin(), t.begin() + long(t.size() / 2), t.end());
  return t[t.size() / 2];
}

}  // namespace digitnet::bench

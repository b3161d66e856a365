// Double-buffered batch prefetching: one background thread produces batch k+1 while
// the caller consumes batch k, so preparing a batch (gathering, augmenting) overlaps
// the training step instead of adding to it.
//
//   Prefetcher<Batch> pf(steps, [&](size_t k, Batch& out) { ...fill out with batch k... });
//   for (size_t k = 0; k < steps; ++k) { Batch& b = pf.next(); ...use b until the next call... }
//
// Threads: the producer runs on a std::thread. If it opened an OpenMP parallel region
// with the process's default thread count, libgomp would start a second team of that
// size next to the caller's (oneDNN's) team: more threads than cores, and every
// barrier of the training step waiting for a preempted thread. So the prefetch thread
// sets its own OpenMP thread count to `producer_threads` (default 1; 0 keeps the
// process default) before producing: OpenMP code called by the producer
// (batch_gather_augmented) then runs serially on it. Raise it only when the machine has
// cores the training step does not use.
//
// The overlap is only free when a core is idle during the step. When the step already
// keeps every core busy (e.g. one rank per core), the producer competes with it; see
// digitnet-bench-augment, part 3, for what that costs on a given machine.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace digitnet {

// The type-independent machinery: the thread, the lock and the hand-over of two slots.
class PrefetchThread {
 public:
  // Calls fill(k, k % 2) for k = 0 .. count-1 in order on a new thread, never more
  // than one batch ahead of the consumer.
  PrefetchThread(size_t count, int producer_threads, std::function<void(size_t k, int slot)> fill);
  // Stops the thread: a batch being produced is finished first (it cannot be
  // interrupted), batches not yet started never are. Never throws.
  ~PrefetchThread();
  PrefetchThread(const PrefetchThread&) = delete;
  PrefetchThread& operator=(const PrefetchThread&) = delete;

  // Releases the slot the previous call returned, waits for the next batch and returns
  // its slot. Rethrows the producer's exception when that batch failed (and on every
  // later call); throws std::logic_error after `count` batches.
  int acquire();
  size_t count() const { return count_; }

 private:
  void run(int producer_threads);

  const size_t count_;
  std::function<void(size_t, int)> fill_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t produced_ = 0;  // batches [0, produced_) are ready or consumed
  size_t acquired_ = 0;  // acquire() has returned batches [0, acquired_)
  size_t released_ = 0;  // the consumer is done with batches [0, released_)
  bool stop_ = false;
  std::exception_ptr error_;  // the failure of batch produced_, if any
  std::thread thread_;        // last member: started after the state above exists
};

// Typed front end: owns the two Batch objects the producer fills in turn. A slot is
// reused two batches later, so the producer can keep its vectors' capacity (and must
// overwrite, not append).
template <class Batch>
class Prefetcher {
 public:
  using Producer = std::function<void(size_t k, Batch& out)>;

  Prefetcher(size_t count, Producer produce, int producer_threads = 1)
      : produce_(std::move(produce)),
        thread_(count, producer_threads, [this](size_t k, int slot) { produce_(k, slots_[slot]); }) {}

  // Batch k on the k-th call (0-based); valid until the next call. Rethrows the
  // producer's exception for that batch.
  Batch& next() { return slots_[thread_.acquire()]; }
  size_t count() const { return thread_.count(); }

 private:
  Producer produce_;
  Batch slots_[2];
  PrefetchThread thread_;  // last: joined before the slots and the producer are destroyed
};

}  // namespace digitnet

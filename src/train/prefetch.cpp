#include "digitnet/train/prefetch.hpp"

#include <omp.h>

#include <stdexcept>

namespace digitnet {

PrefetchThread::PrefetchThread(size_t count, int producer_threads, std::function<void(size_t, int)> fill)
    : count_(count), fill_(std::move(fill)) {
  thread_ = std::thread(&PrefetchThread::run, this, producer_threads);
}

PrefetchThread::~PrefetchThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PrefetchThread::run(int producer_threads) {
  // OpenMP's thread count is per thread: this sets it for the producer only (see the header).
  if (producer_threads > 0) omp_set_num_threads(producer_threads);
  for (size_t k = 0; k < count_; ++k) {
    {
      // Slot k % 2 last held batch k - 2: wait until the consumer has moved past it.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || k < released_ + 2; });
      if (stop_) return;
    }
    try {
      fill_(k, int(k % 2));  // outside the lock: the consumer works meanwhile
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    produced_ = k + 1;
    cv_.notify_all();
  }
}

int PrefetchThread::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  if (acquired_ >= count_) throw std::logic_error("Prefetcher: next() called more than count() times");
  // Entering acquire() means the consumer is done with the batch it holds.
  released_ = acquired_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return produced_ > acquired_ || error_; });
  if (produced_ <= acquired_) std::rethrow_exception(error_);  // this batch failed
  return int(acquired_++ % 2);
}

}  // namespace digitnet

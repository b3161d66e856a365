// cpp-httplib's own pool queues accepted connections without bound; this one
// has a fixed number of threads and a bounded queue. When the queue is full the
// accepting thread waits, so further connections wait in the kernel's backlog
// instead of in our memory. Private to src/serve.
#pragma once
#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace digitnet {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_queued);
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  void work();

  size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable queued_, room_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace digitnet

// Prefetcher: batches arrive in order, are produced on the background thread while
// the caller holds the previous one (and never more than one ahead), the producer's
// exception reaches the caller at the batch that failed, and destruction at any point
// neither hangs nor leaks. Plus the thread rule: OpenMP on the producer thread is serial.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "digitnet/train/augment.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/train/prefetch.hpp"
#include "digitnet/core/rng.hpp"

using namespace digitnet;
using namespace std::chrono_literals;

namespace {

// A hang must fail the test, not stall the suite: exits the process after `limit`.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "%s: still running after %lld s (hang)\n", what, (long long)limit.count());
            std::_Exit(1);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Waits up to `limit` for pred() (polling: test-only code).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct Batch {
  size_t k = 0;
  std::vector<uint32_t> data;
};

uint32_t pattern(size_t k, size_t i) { return uint32_t(k * 7919 + i); }

// Counts live instances: a slot that is never destroyed shows up as a leak.
std::atomic<int> live{0};
struct Counted {
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  ~Counted() { --live; }
  size_t k = 0;
};

}  // namespace

TEST(Prefetcher, DeliversEveryBatchInOrderAndNeverWritesTheHeldOne) {
  Watchdog dog(60s, "in-order test");
  const size_t count = 500;
  std::atomic<size_t> started{0};  // next() calls begun by the consumer
  std::vector<size_t> produced;    // written by the producer only, read after it stopped
  {
    Prefetcher<Batch> pf(count, [&](size_t k, Batch& out) {
      // Batch k needs the slot of batch k-2, free once the consumer asked for batch k-1
      // (batches 0 and 1 have free slots from the start).
      EXPECT_LE(k, std::max<size_t>(started.load(), 1)) << "producer ran more than one batch ahead";
      produced.push_back(k);
      out.k = k;
      out.data.resize(64);
      for (size_t i = 0; i < out.data.size(); ++i) out.data[i] = pattern(k, i);
    });
    for (size_t k = 0; k < count; ++k) {
      ++started;
      const Batch& b = pf.next();
      ASSERT_EQ(b.k, k);
      // Give the producer time to (wrongly) overwrite the batch we hold, then check it.
      if (k % 50 == 0) std::this_thread::sleep_for(2ms);
      for (size_t i = 0; i < b.data.size(); ++i) ASSERT_EQ(b.data[i], pattern(k, i)) << "batch " << k;
    }
    EXPECT_THROW(pf.next(), std::logic_error);  // past the end
  }
  ASSERT_EQ(produced.size(), count);
  for (size_t k = 0; k < count; ++k) EXPECT_EQ(produced[k], k);
}

TEST(Prefetcher, ProducesTheNextBatchWhileTheCallerHoldsOne) {
  Watchdog dog(60s, "background test");
  std::atomic<size_t> fills{0};
  Prefetcher<Batch> pf(5, [&](size_t k, Batch& out) {
    out.k = k;
    ++fills;
  });
  EXPECT_EQ(pf.next().k, 0u);
  // Without another next(), batch 1 appears: it is made on the background thread...
  EXPECT_TRUE(eventually([&] { return fills.load() >= 2; })) << "batch 1 was not produced in the background";
  // ...but batch 2 would need the slot we hold: it must not be started.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(fills.load(), 2u);
  EXPECT_EQ(pf.next().k, 1u);
  EXPECT_TRUE(eventually([&] { return fills.load() >= 3; }));
}

TEST(Prefetcher, RethrowsTheProducersExceptionAtTheBatchThatFailed) {
  Watchdog dog(60s, "exception test");
  Prefetcher<Batch> pf(10, [](size_t k, Batch& out) {
    if (k == 5) fail(ErrorKind::data, "batch 5 is bad");
    out.k = k;
  });
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(pf.next().k, k);  // the good batches before it still arrive
  for (int attempt = 0; attempt < 2; ++attempt) {            // and every later call fails too
    try {
      pf.next();
      ADD_FAILURE() << "no exception at batch 5, attempt " << attempt;
    } catch (const Error& e) {  // the original type survives the thread hop
      EXPECT_EQ(e.kind(), ErrorKind::data);
      EXPECT_STREQ(e.what(), "batch 5 is bad");
    }
  }
}

TEST(Prefetcher, StopsMidStreamWithoutHangingOrLeaking) {
  Watchdog dog(60s, "mid-stream destruction");
  auto token = std::make_shared<int>(0);  // held by the producer: released when it is destroyed
  struct Case {
    const char* name;
    size_t consume;  // batches taken before destruction
    std::chrono::milliseconds fill_time;
  };
  for (const Case& cs : {Case{"before any next()", 0, 0ms},
                         Case{"after 3 of 1000, producer blocked on a full queue", 3, 0ms},
                         Case{"during a slow fill", 1, 300ms}}) {
    std::atomic<size_t> fills{0}, entered{0};
    {
      Prefetcher<Counted> pf(1000, [&fills, &entered, token, cs](size_t k, Counted& out) {
        ++entered;
        if (k > 0) std::this_thread::sleep_for(cs.fill_time);
        out.k = k;
        ++fills;
      });
      for (size_t k = 0; k < cs.consume; ++k) ASSERT_EQ(pf.next().k, k) << cs.name;
      if (cs.fill_time == 0ms && cs.consume > 0) {  // let the producer run into the full queue
        ASSERT_TRUE(eventually([&] { return fills.load() >= cs.consume + 1; })) << cs.name;
      }
      if (cs.fill_time > 0ms) {  // destroy while batch consume is being made
        ASSERT_TRUE(eventually([&] { return entered.load() >= cs.consume + 1; })) << cs.name;
      }
    }  // destruction: must return (the watchdog guards it)
    EXPECT_LE(fills.load(), cs.consume + 2) << cs.name << ": produced batches nobody could take";
    EXPECT_EQ(live.load(), 0) << cs.name << ": slots leaked";
    EXPECT_EQ(token.use_count(), 1) << cs.name << ": producer not destroyed";
  }
}

TEST(Prefetcher, UnconsumedFailureIsDroppedQuietly) {
  Watchdog dog(60s, "unconsumed failure");
  // Set while the exception unwinds the producer: it really was thrown.
  struct UnwindProbe {
    std::atomic<bool>& seen;
    ~UnwindProbe() {
      if (std::uncaught_exceptions() > 0) seen = true;
    }
  };
  std::atomic<bool> unwound{false};
  std::vector<size_t> calls;  // written by the producer only, read after it was joined
  auto pf = std::make_unique<Prefetcher<Batch>>(3, [&](size_t k, Batch&) {
    calls.push_back(k);
    const UnwindProbe probe{unwound};
    throw std::runtime_error("nobody asks");
  });
  ASSERT_TRUE(eventually([&] { return unwound.load(); })) << "the producer's exception was never thrown";
  const auto start = std::chrono::steady_clock::now();
  pf.reset();  // a throwing destructor would std::terminate; a hang trips the watchdog
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "destruction after a failure took too long";
  // The destructor joined the producer thread, so `calls` is safe to read: batch 0
  // failed, and the producer was never asked for another batch.
  EXPECT_EQ(calls, std::vector<size_t>{0});
}

TEST(Prefetcher, ZeroBatches) {
  bool called = false;
  Prefetcher<Batch> pf(0, [&](size_t, Batch&) { called = true; });
  EXPECT_EQ(pf.count(), 0u);
  EXPECT_THROW(pf.next(), std::logic_error);
  EXPECT_FALSE(called);
}

// The producer's OpenMP regions run serially by default (no second team competing with
// the caller's), with the chosen count otherwise; the caller's own setting is untouched.
TEST(Prefetcher, ProducerThreadHasItsOwnOpenMPThreadCount) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  struct Seen {
    int max = -1, team = -1;
  };
  const auto probe = [](Seen& seen) {
    return [&seen](size_t, Batch&) {
      seen.max = omp_get_max_threads();
#pragma omp parallel
#pragma omp single
      seen.team = omp_get_num_threads();
    };
  };
  Seen by_default, one, two;
  Prefetcher<Batch>(1, probe(by_default)).next();
  Prefetcher<Batch>(1, probe(one), 1).next();
  Prefetcher<Batch>(1, probe(two), 2).next();
  EXPECT_EQ(by_default.max, 1);
  EXPECT_EQ(by_default.team, 1);
  EXPECT_EQ(one.max, 1);
  EXPECT_EQ(one.team, 1);
  EXPECT_EQ(two.max, 2);
  EXPECT_EQ(two.team, 2);
  EXPECT_EQ(omp_get_max_threads(), 2) << "the caller's setting changed";
  omp_set_num_threads(saved);
}

// The trainer's use: augmenting on the prefetch thread (serial) gives the bytes the
// caller gets inline with all its threads.
TEST(Prefetcher, AugmentedBatchesMatchInlineGathering) {
  Watchdog dog(120s, "augmented prefetch");
  Dataset ds;
  ds.rows = ds.cols = 28;
  ds.count = 96;
  ds.num_classes = 10;
  Rng rng(3);
  ds.images.resize(ds.count * ds.features());
  for (auto& p : ds.images) p = uint8_t(rng.below(256));
  for (size_t i = 0; i < ds.count; ++i) ds.labels.push_back(uint8_t(i % 10));
  AugmentConfig cfg;
  cfg.rotate_deg = 12;
  cfg.translate = 2;
  cfg.elastic_alpha = 34;
  cfg.elastic_sigma = 4;
  const Augmenter aug(cfg);
  const InputNorm norm{0.13f, 0.31f};
  const size_t batch = 16, steps = ds.count / batch, f = ds.features();
  std::vector<uint32_t> idx(ds.count);
  for (size_t i = 0; i < ds.count; ++i) idx[i] = uint32_t((i * 37) % ds.count);

  struct XBatch {
    std::vector<float> x;
    std::vector<int32_t> y;
  };
  Prefetcher<XBatch> pf(steps, [&](size_t k, XBatch& out) {
    out.x.resize(batch * f);
    out.y.resize(batch);
    batch_gather_augmented(ds, norm, aug, 11, 4, &idx[k * batch], batch, out.x.data(), out.y.data());
  });
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  std::vector<float> want(batch * f);
  std::vector<int32_t> want_y(batch);
  for (size_t k = 0; k < steps; ++k) {
    batch_gather_augmented(ds, norm, aug, 11, 4, &idx[k * batch], batch, want.data(), want_y.data());
    const XBatch& got = pf.next();
    EXPECT_EQ(got.x, want) << "batch " << k;
    EXPECT_EQ(got.y, want_y) << "batch " << k;
  }
  omp_set_num_threads(saved);
}

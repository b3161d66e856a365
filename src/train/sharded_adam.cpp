#include "digitnet/train/sharded_adam.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include <omp.h>

#include "digitnet/core/error.hpp"
#include "digitnet/core/shard.hpp"
#include "digitnet/train/dist.hpp"
#include "digitnet/train/timeline.hpp"

namespace digitnet {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// f32 -> bf16, rounding to nearest even (NaN stays NaN); bf16 -> f32 is exact.
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float from_bf16(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

GradWire grad_wire_parse(const std::string& name) {
  if (name == "f32") return GradWire::f32;
  if (name == "bf16") return GradWire::bf16;
  fail(ErrorKind::usage, "--grad-wire " + name + ": expected f32 or bf16");
}

Progress progress_parse(const std::string& name) {
  if (name == "poll") return Progress::poll;
  if (name == "thread") return Progress::thread;
  fail(ErrorKind::usage, "--progress " + name + ": expected poll or thread");
}

// Runs the reductions of the buckets handed over, one after another, each a
// blocking wait, while the main thread goes on with backward. The main thread
// calls MPI again only after update() has seen every bucket done, so the
// two never call MPI at the same time (MPI_THREAD_SERIALIZED is enough).
class ShardedAdam::Worker {
 public:
  explicit Worker(ShardedAdam& owner) : owner_(owner), thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = done_ = 0;
  }
  void hand_over(size_t buckets) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_ = buckets;
    }
    cv_.notify_all();
  }
  // Waits until buckets [0, buckets) are reduced (the thread may be further on);
  // rethrows what the thread ran into.
  void wait_done(size_t buckets) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ >= buckets || error_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return quit_ || done_ < ready_; });
      if (quit_) return;
      Bucket& b = owner_.buckets_[done_];
      lock.unlock();
      std::exception_ptr error;
      try {
        owner_.start_reduce(b);
        owner_.world_.wait(b.ticket);
        owner_.seen_done(done_);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error) error_ = error, ready_ = done_;
      else ++done_;
      cv_.notify_all();
    }
  }

  ShardedAdam& owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t ready_ = 0, done_ = 0;
  bool quit_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after the members it reads
};

ShardedAdam::~ShardedAdam() = default;

// Layers from the last one back; a bucket grows downwards (layers are laid out in
// order) and closes once it holds bucket_bytes. A layer larger than that is cut
// at weight-row boundaries, so the first layer, which backward produces last, is
// not one big exchange at the end of the step: the pieces go one after another,
// each one's update and allgather overlapping the next one's reduction, and only
// the last piece is left exposed. A remainder under half a bucket stays with the
// piece above it. Buckets never change a bit of the result: each element is
// summed in rank order and Adam is element-wise.
std::vector<ShardedAdam::Bucket> ShardedAdam::bucket_layout(const MlpShape& shape, size_t bucket_bytes) {
  // parameters per bucket; 0: one bucket (a request under one float still cuts: every row)
  const size_t target = bucket_bytes ? std::max<size_t>(1, bucket_bytes / sizeof(float)) : 0;
  std::vector<Bucket> buckets;
  const std::vector<LayerSlice> layout = mlp_layout(shape);
  for (size_t l = layout.size(); l-- > 0;) {
    const LayerSlice& s = layout[l];
    size_t top = s.bias_offset + s.out;  // the layer's part not yet in a bucket: [weight_offset, top)
    while (top > s.weight_offset) {
      const bool full = !buckets.empty() && target > 0 && buckets.back().end - buckets.back().begin >= target;
      if (buckets.empty() || full) {
        Bucket b;
        b.begin = b.end = top;
        buckets.push_back(std::move(b));
      }
      Bucket& b = buckets.back();
      size_t bottom = s.weight_offset;
      if (target > 0) {
        const size_t rows_top = std::min(top, s.bias_offset);  // the bias, if still here, sits above the rows
        const size_t room = target - std::min(target, b.end - b.begin + (top - rows_top));
        const size_t rows = std::max<size_t>(1, (room + s.in - 1) / s.in);
        const size_t cut = rows_top - std::min(rows_top - s.weight_offset, rows * s.in);
        if (cut - s.weight_offset >= target / 2) bottom = cut;
      }
      b.begin = bottom;
      b.first_layer = l;
      top = bottom;
    }
  }
  return buckets;
}

ShardedAdam::ShardedAdam(World& world, const MlpShape& shape, size_t bucket_bytes, GradWire wire, Progress progress)
    : world_(world), wire_(wire), W_(size_t(world.size())) {
  buckets_ = bucket_layout(shape, bucket_bytes);
  for (Bucket& b : buckets_) {
    for (int r = 0; r < int(W_); ++r) b.counts.push_back(int(shard_range(b.end - b.begin, int(W_), r).size()));
    b.mine = b.begin + shard_range(b.end - b.begin, int(W_), world.rank()).begin;
    b.local = local_;
    local_ += my_count(b);
  }
  state_.reset(local_);
  if (W_ > 1) summed_.resize(local_);
  if (W_ > 1 && wire_ == GradWire::f32) blocks_in_.resize(W_ * local_);
  if (W_ > 1 && wire_ == GradWire::bf16) {
    wire_out_.resize(buckets_.front().end);  // the whole parameter count
    wire_in_.resize(W_ * local_);
  }
  if (W_ > 1 && progress == Progress::thread) {
    if (!world.serialized_threads())
      fail(ErrorKind::runtime, "--progress thread: this MPI library does not provide MPI_THREAD_SERIALIZED");
    worker_ = std::make_unique<Worker>(*this);
  }
}

std::vector<std::pair<size_t, size_t>> ShardedAdam::bucket_ranges() const {
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const Bucket& b : buckets_) ranges.emplace_back(b.begin, b.end);
  return ranges;
}

size_t ShardedAdam::my_count(const Bucket& b) const { return size_t(b.counts[size_t(world_.rank())]); }

void ShardedAdam::load(const AdamState& full) {
  state_.reset(local_);
  state_.step = full.step;
  if (full.m.empty()) return;
  for (const Bucket& b : buckets_) {
    std::memcpy(&state_.m[b.local], &full.m[b.mine], my_count(b) * sizeof(float));
    std::memcpy(&state_.v[b.local], &full.v[b.mine], my_count(b) * sizeof(float));
  }
}

AdamState ShardedAdam::gather() const {
  AdamState full;
  full.step = state_.step;
  const bool root = world_.rank() == 0;
  if (root) full.reset(buckets_.front().end), full.step = state_.step;
  for (const Bucket& b : buckets_) {
    if (W_ == 1) {
      std::memcpy(&full.m[b.begin], &state_.m[b.local], my_count(b) * sizeof(float));
      std::memcpy(&full.v[b.begin], &state_.v[b.local], my_count(b) * sizeof(float));
      continue;
    }
    world_.gather(&state_.m[b.local], root ? &full.m[b.begin] : nullptr, b.counts, 0);
    world_.gather(&state_.v[b.local], root ? &full.v[b.begin] : nullptr, b.counts, 0);
  }
  return full;
}

void ShardedAdam::begin(const float* grads, uint64_t step) {
  grads_ = grads;
  step_ = step;
  next_ = 0;
  for (Bucket& b : buckets_) b.done = false;
  if (worker_) worker_->reset();
  times_ = {};
  first_start_ = last_done_ = reduced_ = gathering_ = 0;
  gather_ticket_ = -1;
}

void ShardedAdam::start_reduce(Bucket& b) {
  if (W_ == 1) return;
  if (!worker_ && first_start_ == 0) first_start_ = now_seconds();
  if (timeline_) b.start_ns = timeline_->now();
  if (wire_ == GradWire::f32) {
    b.ticket = world_.start_alltoall(grads_ + b.begin, &blocks_in_[W_ * b.local], b.counts);
    return;
  }
  for (size_t i = b.begin; i < b.end; ++i) wire_out_[i] = to_bf16(grads_[i]);
  b.ticket = world_.start_alltoall(&wire_out_[b.begin], &wire_in_[W_ * b.local], b.counts);
}

// Lets the reductions in flight move on (Open MPI progresses them only inside MPI calls).
void ShardedAdam::poll() {
  bool called = false;  // one MPI call moves every operation in flight
  for (size_t k = 0; k < next_; ++k)
    if (!buckets_[k].done) {
      called = true;
      if (world_.test(buckets_[k].ticket)) seen_done(k);
    }
  if (!called && gather_ticket_ >= 0) world_.test(gather_ticket_);
}

void ShardedAdam::seen_done(size_t k) {
  Bucket& b = buckets_[k];
  b.done = true;
  last_done_ = now_seconds();
  if (timeline_)
    timeline_->record("reduce", bucket_track(k), b.start_ns, timeline_->now(),
                      {int64_t(step_), int64_t(k), int64_t(bucket_bytes(b))});
}

size_t ShardedAdam::bucket_bytes(const Bucket& b) const {
  return (b.end - b.begin) * (wire_ == GradWire::bf16 ? sizeof(uint16_t) : sizeof(float));
}

TimelineTrack ShardedAdam::bucket_track(size_t k) {
  return TimelineTrack(uint32_t(TimelineTrack::bucket0) + uint32_t(k));
}

void ShardedAdam::hand_over(size_t buckets) {
  if (worker_) {
    if (next_ < buckets && first_start_ == 0) first_start_ = now_seconds();
    next_ = buckets;
    worker_->hand_over(buckets);
    return;
  }
  while (next_ < buckets) start_reduce(buckets_[next_++]);
}

void ShardedAdam::layer_done(size_t layer) {
  if (W_ == 1) return;
  if (!worker_) poll();
  size_t ready = next_;
  while (ready < buckets_.size() && buckets_[ready].first_layer >= layer) ++ready;
  hand_over(ready);
}

void ShardedAdam::input_gradient_done(size_t) {
  if (W_ > 1 && !worker_) poll();
}

// Waits for bucket k's reduction: the time waited is exposed communication.
void ShardedAdam::wait_reduced(size_t k) {
  const double wait_start = now_seconds();
  {
    TimelineSpan span(timeline_, "reduce", {int64_t(step_), int64_t(k), -1});
    if (worker_) worker_->wait_done(k + 1);
    else if (!buckets_[k].done) world_.wait(buckets_[k].ticket);
  }
  times_.exposed += now_seconds() - wait_start;
  if (!worker_ && !buckets_[k].done) seen_done(k);
  reduced_ = last_done_;
}

// Each rank received every other rank's block of its slice of b (its own block
// is still where backward wrote it): it sums elements [from, to) of them in f32,
// in rank order, so the sum does not depend on how the bytes travelled.
void ShardedAdam::sum_blocks(const Bucket& b, size_t from, size_t to) {
  const size_t n = my_count(b), me = size_t(world_.rank());
  float* out = &summed_[b.local];
  auto sum = [&](const auto* own, const auto* received, auto to_f32) {
    for (size_t r = 0; r < W_; ++r) {
      const auto* x = r == me ? own : received + r * n;
      if (r == 0)
        for (size_t i = from; i < to; ++i) out[i] = to_f32(x[i]);
      else
        for (size_t i = from; i < to; ++i) out[i] += to_f32(x[i]);
    }
  };
  if (wire_ == GradWire::f32)
    sum(grads_ + b.mine, &blocks_in_[W_ * b.local], [](float x) { return x; });
  else
    sum(&wire_out_[b.mine], &wire_in_[W_ * b.local], from_bf16);
}

const float* ShardedAdam::summed(const Bucket& b) const { return W_ == 1 ? grads_ + b.begin : &summed_[b.local]; }

double ShardedAdam::global_norm() const {
  double mine = 0;
  for (const Bucket& b : buckets_) mine += sum_of_squares(summed(b), my_count(b));
  if (W_ == 1) return std::sqrt(mine);
  double total = 0;  // in rank order on every rank: the same clipping factor everywhere
  for (double share : world_.allgather(mine)) total += share;
  return std::sqrt(total);
}

void ShardedAdam::update(const AdamConfig& cfg, float* params, const DecayRanges& decayed, double clip_norm) {
  if (W_ > 1) hand_over(buckets_.size());  // (all of them, for a caller that skipped layer_done)
  ++state_.step;
  // Pipelined: bucket k's Adam and allgather run while bucket k+1 is still being
  // reduced. Clipping needs every bucket's share of the norm first; the exchange
  // thread must be done with MPI before this thread calls it.
  const bool pipelined = clip_norm <= 0 && !worker_;
  if (!pipelined) {
    for (size_t k = 0; W_ > 1 && k < buckets_.size(); ++k) {
      wait_reduced(k);
      sum_blocks(buckets_[k], 0, my_count(buckets_[k]));
    }
    if (clip_norm > 0) {
      TimelineSpan span(timeline_, "optimizer", {int64_t(step_)});
      const double norm = global_norm();
      if (norm > clip_norm)
        for (const Bucket& b : buckets_) scale_in_place(const_cast<float*>(summed(b)), my_count(b), float(clip_norm / norm));
    }
  }
  for (size_t k = 0; k < buckets_.size(); ++k) {
    if (pipelined && W_ > 1) wait_reduced(k);
    update_bucket(cfg, buckets_[k], params, decayed, pipelined && W_ > 1);
    start_allgather(buckets_[k], params);
  }
}

// Adam on this rank's slice of b, in chunks: each chunk's sum (when not done yet)
// is still in cache when Adam reads it, and between chunks the exchanges in
// flight are polled, so the next bucket's reduction and this one's allgather move
// on meanwhile.
void ShardedAdam::update_bucket(const AdamConfig& cfg, const Bucket& b, float* params, const DecayRanges& decayed,
                                bool sum_first) {
  TimelineSpan span(timeline_, "optimizer", {int64_t(step_), W_ > 1 ? int64_t(&b - buckets_.data()) : -1, -1});
  // 128 kB of each of p, g, m and v per thread: well inside L2. One rank has
  // nothing to sum or poll, and one pass saves the threads' fork and join.
  const size_t n = my_count(b);
  const size_t chunk = W_ == 1 ? n : (size_t(1) << 15) * size_t(std::max(1, omp_get_max_threads()));
  if (W_ > 1 && wire_ == GradWire::bf16 && before_.size() < chunk) before_.resize(chunk);
  for (size_t from = 0; from < n; from += chunk) {
    const size_t to = std::min(n, from + chunk), count = to - from;
    if (sum_first) sum_blocks(b, from, to);
    float* p = params + b.mine + from;
    float* m = &state_.m[b.local + from];
    float* v = &state_.v[b.local + from];
    const float* g = summed(b) + from;
    if (W_ == 1 || wire_ == GradWire::f32) {
      adam_update_slice(cfg, state_.step, p, g, m, v, b.mine + from, count, decayed);
    } else {
      // bf16 wire: the update itself travels rounded; apply the rounded one here too.
      float* before = before_.data();  // this chunk's parameters before the update
      std::copy(p, p + count, before);
      adam_update_slice(cfg, state_.step, p, g, m, v, b.mine + from, count, decayed);
      uint16_t* delta = &wire_out_[b.mine + from];
      for (size_t i = 0; i < count; ++i) {
        delta[i] = to_bf16(p[i] - before[i]);
        p[i] = before[i] + from_bf16(delta[i]);
      }
    }
    if (W_ > 1) poll();
  }
}

void ShardedAdam::start_allgather(Bucket& b, float* params) {
  if (W_ == 1) return;
  if (gathering_ == 0) gathering_ = now_seconds();
  if (timeline_) b.gather_ns = timeline_->now();
  b.ticket = wire_ == GradWire::f32 ? world_.start_allgather(params + b.begin, b.counts)
                                    : world_.start_allgather(&wire_out_[b.begin], b.counts);
  gather_ticket_ = b.ticket;
}

void ShardedAdam::finish_allgather(float* params) {
  if (W_ == 1) return;
  const double wait_start = now_seconds();
  {
    TimelineSpan span(timeline_, "allgather", {int64_t(step_)});
    world_.wait_all();
  }
  gather_ticket_ = -1;
  const double done = now_seconds();
  times_.exposed += done - wait_start;
  for (size_t k = 0; timeline_ && k < buckets_.size(); ++k)  // each bucket's allgather in flight
    timeline_->record("allgather", bucket_track(k), buckets_[k].gather_ns, timeline_->now(),
                      {int64_t(step_), int64_t(k), int64_t(bucket_bytes(buckets_[k]))});
  if (wire_ == GradWire::bf16)  // the other ranks' updates, rounded as their owners applied them
    for (const Bucket& b : buckets_)
      for (size_t i = b.begin; i < b.end; ++i)
        if (i < b.mine || i >= b.mine + my_count(b)) params[i] += from_bf16(wire_out_[i]);
  // in flight: from the first reduction's start to the last one's end, and from
  // the first allgather's start to now; the two overlap when pipelined
  times_.total = gathering_ < reduced_ ? done - first_start_ : (reduced_ - first_start_) + (done - gathering_);
}

}  // namespace digitnet

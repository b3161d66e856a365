// --timeline FILE: a Chrome trace (chrome://tracing, ui.perfetto.dev) of every
// step, one track per rank, to see at a glance which rank is late and which
// communication is exposed (as Horovod Timeline does).
//
//   Timeline timeline(world);                          // all ranks, at the start
//   { TimelineSpan span(&timeline, "forward", args); ... }  // a span: two clock reads
//   timeline_write(timeline, world, "trace.json", host);  // all ranks, at the end
//
// Off costs nothing: code holds a Timeline* that is null, and a span on a null
// timeline is a null check (no clock read, no allocation). On, each rank records
// into one buffer allocated at the start (kTimelineCapacity events at most, later
// ones are counted, not kept), and at the end rank 0 gathers the ranks' events
// and writes one JSON file: pid = rank, tid = thread (main, prefetch).
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace digitnet {

class World;

// The tracks of a rank: its threads that record spans, and one per gradient
// bucket for the reduction in flight (bucket k: bucket0 + k), which may overlap
// another bucket's and the main thread's backward.
enum class TimelineTrack : uint32_t { main = 0, prefetch = 1, bucket0 = 2 };

// Optional values of a span, shown in its "args" (negative: absent). A
// per-bucket reduction keeps the name "reduce" (one colour) with its bucket.
struct TimelineArgs {
  int64_t step = -1;    // global optimizer step the span belongs to
  int64_t bucket = -1;  // gradient bucket
  int64_t bytes = -1;   // bytes a collective moves
};

// One span; `name` must be a string with static storage (a literal).
struct TimelineEvent {
  int64_t begin_ns, end_ns;  // since the timeline's zero, on rank 0's clock
  const char* name;
  TimelineTrack track;
  TimelineArgs args;
};

// Events per rank: 14 MB of address space, resident only as it fills; at 7 spans
// a step (2 ranks, one gradient bucket) about 80 MNIST epochs of batch 128.
constexpr size_t kTimelineCapacity = size_t(1) << 18;

class Timeline {
 public:
  // Every rank together: aligns this rank's clock to rank 0's (World::steady_clock_offset)
  // and sets the common zero. Allocates the buffer of `capacity` events.
  explicit Timeline(World& world, size_t capacity = kTimelineCapacity);
  // A timeline of this process alone, zero now (for tests and tools without MPI).
  explicit Timeline(size_t capacity = kTimelineCapacity);
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // Nanoseconds since the common zero, on rank 0's clock.
  int64_t now() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
               .count() - zero_ns_;
  }
  // Keeps one span. Thread-safe: any thread may record (each on its own track).
  void record(const char* name, TimelineTrack track, int64_t begin_ns, int64_t end_ns, const TimelineArgs& args = {});

  size_t size() const;  // events kept
  size_t dropped() const;  // events not kept: the buffer was full
  int64_t clock_error_ns() const { return clock_error_ns_; }  // bound of the alignment to rank 0's clock
  const TimelineEvent& operator[](size_t i) const { return events_[i]; }

 private:
  struct Free {
    void operator()(TimelineEvent* p) const;
  };
  const size_t capacity_;
  std::unique_ptr<TimelineEvent[], Free> events_;  // malloc'ed, not initialised: pages are touched as events arrive
  std::atomic<size_t> next_{0};              // slots handed out, kept or not
  int64_t zero_ns_ = 0;                      // this rank's steady_clock at the common zero
  int64_t clock_error_ns_ = 0;
};

// Records [construction, destruction) as one span; nothing at all on a null timeline.
class TimelineSpan {
 public:
  TimelineSpan(Timeline* timeline, const char* name, const TimelineArgs& args = {},
               TimelineTrack track = TimelineTrack::main)
      : timeline_(timeline), name_(name), track_(track), args_(args), begin_(timeline ? timeline->now() : 0) {}
  ~TimelineSpan() {
    if (timeline_) timeline_->record(name_, track_, begin_, timeline_->now(), args_);
  }
  TimelineSpan(const TimelineSpan&) = delete;
  TimelineSpan& operator=(const TimelineSpan&) = delete;

 private:
  Timeline* const timeline_;
  const char* const name_;
  const TimelineTrack track_;
  const TimelineArgs args_;
  const int64_t begin_;
};

// This rank's part of the trace: comma-separated JSON objects of the Chrome trace
// format ("X" complete events in microseconds, and the metadata naming the
// process "rank R (host)" and its threads). No MPI; the writer's unit under test.
std::string timeline_rank_json(const Timeline& timeline, int rank, const std::string& host);

// What timeline_write did, for the run's last lines (rank 0's; zeros elsewhere).
struct TimelineWritten {
  uint64_t events = 0, dropped = 0, bytes = 0;  // of all ranks
  int ranks = 0;
  double seconds = 0;  // gathering and writing
};

// Every rank together: gathers every rank's events on rank 0, which writes the
// file {"traceEvents": [...]}; `host` names this rank's track. Throws Error if
// rank 0 cannot write the file (after the last collective: no rank is left waiting).
TimelineWritten timeline_write(const Timeline& timeline, World& world, const std::string& path,
                               const std::string& host);

// Fails with Error(usage) if `path` cannot be written (checked before training).
void timeline_check_path(const std::string& path);

}  // namespace digitnet

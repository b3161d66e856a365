// Timeline (--timeline): spans become Chrome-trace events that a JSON parser
// reads back with their times, tracks and arguments; the buffer is bounded and
// says how much it dropped; two threads record at once without losing events.
// The gathering across ranks and the whole file: tests/e2e/timeline.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "digitnet/train/timeline.hpp"

using namespace digitnet;
using nlohmann::json;

namespace {

// This rank's part is a list of objects without brackets: a parser takes it inside [ ].
json parse_rank(const Timeline& timeline, int rank, const std::string& host) {
  return json::parse("[" + timeline_rank_json(timeline, rank, host) + "]");
}

std::vector<json> complete_events(const json& events) {
  std::vector<json> out;
  for (const json& e : events)
    if (e["ph"] == "X") out.push_back(e);
  return out;
}

const json* metadata(const json& events, const std::string& name, int tid = -1) {
  for (const json& e : events)
    if (e["ph"] == "M" && e["name"] == name && (tid < 0 || e.value("tid", -1) == tid)) return &e;
  return nullptr;
}

}  // namespace

TEST(Timeline, SpansBecomeCompleteEventsInMicroseconds) {
  Timeline timeline(16);
  timeline.record("forward", TimelineTrack::main, 1'500, 2'001'500, {7});
  timeline.record("reduce", TimelineTrack::main, 2'001'500, 2'500'000, {7, 3, 2'678'824});
  timeline.record("checkpoint", TimelineTrack::main, 3'000'000, 3'000'250);
  const json events = parse_rank(timeline, 3, "node-a");

  const json* process = metadata(events, "process_name");
  ASSERT_NE(process, nullptr);
  EXPECT_EQ((*process)["pid"], 3);
  EXPECT_EQ((*process)["args"]["name"], "rank 3 (node-a)");
  const json* sort = metadata(events, "process_sort_index");
  ASSERT_NE(sort, nullptr);
  EXPECT_EQ((*sort)["args"]["sort_index"], 3);
  const json* labels = metadata(events, "process_labels");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ((*labels)["args"]["clock_error_us"], 0) << "a timeline of one process is its own reference";
  const json* thread = metadata(events, "thread_name", 0);
  ASSERT_NE(thread, nullptr);
  EXPECT_EQ((*thread)["args"]["name"], "main");
  EXPECT_EQ(metadata(events, "thread_name", 1), nullptr) << "no prefetch track without its events";

  const std::vector<json> spans = complete_events(events);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0]["name"], "forward");
  EXPECT_EQ(spans[0]["pid"], 3);
  EXPECT_EQ(spans[0]["tid"], 0);
  EXPECT_DOUBLE_EQ(spans[0]["ts"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(spans[0]["dur"].get<double>(), 2000.0);
  EXPECT_EQ(spans[0]["args"], json({{"step", 7}}));
  EXPECT_EQ(spans[1]["args"], json({{"step", 7}, {"bucket", 3}, {"bytes", 2678824}}));
  EXPECT_DOUBLE_EQ(spans[1]["dur"].get<double>(), 498.5);
  EXPECT_FALSE(spans[2].contains("args")) << "absent arguments are left out";
  EXPECT_DOUBLE_EQ(spans[2]["dur"].get<double>(), 0.25);
}

TEST(Timeline, ASpanCoversItsScopeOnItsTrack) {
  Timeline timeline(4);
  const int64_t before = timeline.now();
  {
    TimelineSpan span(&timeline, "gather", {2}, TimelineTrack::prefetch);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int64_t after = timeline.now();
  ASSERT_EQ(timeline.size(), 1u);
  const TimelineEvent& e = timeline[0];
  EXPECT_STREQ(e.name, "gather");
  EXPECT_EQ(e.track, TimelineTrack::prefetch);
  EXPECT_EQ(e.args.step, 2);
  EXPECT_GE(e.begin_ns, before);
  EXPECT_LE(e.end_ns, after);
  EXPECT_GE(e.end_ns - e.begin_ns, 20'000'000);
  const json events = parse_rank(timeline, 0, "h");
  const json* thread = metadata(events, "thread_name", 1);
  ASSERT_NE(thread, nullptr);
  EXPECT_EQ((*thread)["args"]["name"], "prefetch");
  { TimelineSpan off(nullptr, "forward"); }  // --timeline off: nothing to record into, nothing recorded anywhere
  EXPECT_EQ(timeline.size(), 1u);
}

TEST(Timeline, TheBufferIsBoundedAndCountsWhatItDropped) {
  Timeline timeline(4);
  for (int i = 0; i < 10; ++i) timeline.record("step", TimelineTrack::main, i * 10, i * 10 + 5, {i});
  EXPECT_EQ(timeline.size(), 4u);
  EXPECT_EQ(timeline.dropped(), 6u);
  const std::vector<json> spans = complete_events(parse_rank(timeline, 0, "h"));
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans.back()["args"]["step"], 3) << "the first events are kept";
}

TEST(Timeline, NamesAndHostsAreEscaped) {
  Timeline timeline(2);
  timeline.record("a \"quoted\" \\ name\n", TimelineTrack::main, 0, 1);
  const json events = parse_rank(timeline, 1, "we\"ird\\host\t");
  EXPECT_EQ((*metadata(events, "process_name"))["args"]["name"], "rank 1 (we\"ird\\host\t)");
  EXPECT_EQ(complete_events(events).at(0)["name"], "a \"quoted\" \\ name\n");
}

// The main thread and the prefetch thread record at the same time: every span is
// kept, each track in its own order.
TEST(Timeline, TwoThreadsRecordWithoutLosingSpans) {
  constexpr int kPerThread = 50'000;
  Timeline timeline(2 * kPerThread);
  auto spans = [&](TimelineTrack track) {
    for (int i = 0; i < kPerThread; ++i) TimelineSpan span(&timeline, "s", {i}, track);
  };
  std::thread other(spans, TimelineTrack::prefetch);
  spans(TimelineTrack::main);
  other.join();
  ASSERT_EQ(timeline.size(), size_t(2 * kPerThread));
  EXPECT_EQ(timeline.dropped(), 0u);
  std::map<TimelineTrack, int64_t> next_step;
  for (size_t i = 0; i < timeline.size(); ++i) {
    const TimelineEvent& e = timeline[i];
    ASSERT_EQ(e.args.step, next_step[e.track]++) << "track " << int(e.track) << " out of order";
  }
  EXPECT_EQ(next_step[TimelineTrack::main], kPerThread);
  EXPECT_EQ(next_step[TimelineTrack::prefetch], kPerThread);
}

// What a span costs the thread that records it (printed: a measurement, not a check),
// and what a span on a null timeline (--timeline off) costs.
TEST(Timeline, RecordingCostIsPrinted) {
  constexpr int kSpans = 100'000;
  Timeline timeline(kSpans);
  Timeline* volatile off = nullptr;  // read at run time, as --timeline is
  auto per_span_ns = [&](Timeline* t) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kSpans; ++i) TimelineSpan span(t, "s", {i});
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kSpans;
  };
  const double on_ns = per_span_ns(&timeline), off_ns = per_span_ns(off);
  ASSERT_EQ(timeline.size(), size_t(kSpans));
  EXPECT_EQ(timeline[kSpans - 1].args.step, kSpans - 1);
  std::printf("timeline: %.0f ns per span on (two steady_clock reads and a store), %.1f ns off\n", on_ns, off_ns);
}

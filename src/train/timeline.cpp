#include "digitnet/train/timeline.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "digitnet/core/error.hpp"
#include "digitnet/train/dist.hpp"

namespace digitnet {

namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A JSON string literal of `text` (names and host names; escaped all the same).
std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", unsigned(c));
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string track_name(uint32_t track) {
  if (track == uint32_t(TimelineTrack::main)) return "main";
  if (track == uint32_t(TimelineTrack::prefetch)) return "prefetch";
  return "bucket " + std::to_string(track - uint32_t(TimelineTrack::bucket0)) + " in flight";
}

// {"name":"process_name","ph":"M","pid":R,...}: the rank's and its threads' labels.
// The label shows how well this rank's clock is aligned to rank 0's.
void metadata_append(std::string& out, int rank, const std::string& host, const std::vector<bool>& tracks,
                     int64_t clock_error_ns) {
  const std::string pid = std::to_string(rank);
  out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"args\":{\"name\":" +
         json_string("rank " + pid + " (" + host + ")") + "}}";
  char labels[160];
  std::snprintf(labels, sizeof labels,
                ",\n{\"name\":\"process_labels\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"labels\":\"clock within "
                "%.1f us of rank 0's\",\"clock_error_us\":%.3f}}",
                rank, double(clock_error_ns) * 1e-3, double(clock_error_ns) * 1e-3);
  out += labels;
  out += ",\n{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + pid + ",\"args\":{\"sort_index\":" + pid + "}}";
  for (uint32_t t = 0; t < tracks.size(); ++t) {
    if (t != uint32_t(TimelineTrack::main) && !tracks[t]) continue;
    const std::string tid = std::to_string(t);
    out += ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + tid +
           ",\"args\":{\"name\":\"" + track_name(t) + "\"}}";
    out += ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":" + pid + ",\"tid\":" + tid +
           ",\"args\":{\"sort_index\":" + tid + "}}";
  }
}

// ,"args":{"step":12,"bytes":2678824}: the values present, or nothing.
std::string args_json(const TimelineArgs& a) {
  std::string out;
  const std::pair<const char*, int64_t> fields[] = {{"step", a.step}, {"bucket", a.bucket}, {"bytes", a.bytes}};
  for (const auto& [key, value] : fields)
    if (value >= 0) out += std::string(out.empty() ? "" : ",") + "\"" + key + "\":" + std::to_string(value);
  return out.empty() ? "" : ",\"args\":{" + out + "}";
}

// One "X" (complete) event; times in microseconds, as the format wants.
void event_append(std::string& out, const TimelineEvent& e, int rank) {
  char head[160];
  std::snprintf(head, sizeof head, ",\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"name\":", rank,
                unsigned(e.track), double(e.begin_ns) * 1e-3, double(e.end_ns - e.begin_ns) * 1e-3);
  out += head;
  out += json_string(e.name);
  out += args_json(e.args);
  out += '}';
}

void file_write(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) fail(ErrorKind::runtime, "--timeline " + path + ": cannot write: " + std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !written)
    fail(ErrorKind::runtime, "--timeline " + path + ": write failed: " + std::strerror(written ? errno : saved));
}

}  // namespace

Timeline::Timeline(size_t capacity)
    : capacity_(capacity),
      events_(static_cast<TimelineEvent*>(std::malloc(std::max<size_t>(1, capacity) * sizeof(TimelineEvent)))),
      zero_ns_(steady_now_ns()) {
  if (!events_) fail(ErrorKind::runtime, "--timeline: no memory for " + std::to_string(capacity) + " events");
}

void Timeline::Free::operator()(TimelineEvent* p) const { std::free(p); }

// Clocks: each rank reads its own steady_clock, which is rank 0's on rank 0's
// node and an unrelated one on other hosts. World::steady_clock_offset gives
// this rank's offset to rank 0's clock (0 on its node, by ping-pong elsewhere);
// rank 0's reading after it becomes the common zero, shifted into this rank's
// clock by that offset. The error bound goes into the trace (process_labels).
Timeline::Timeline(World& world, size_t capacity) : Timeline(capacity) {
  const ClockOffset offset = world.steady_clock_offset();
  const uint64_t rank0_now = world.rank() == 0 ? uint64_t(steady_now_ns()) : 0;
  zero_ns_ = int64_t(world.allreduce_max(rank0_now)) + offset.ns;
  clock_error_ns_ = offset.error_ns;
}

void Timeline::record(const char* name, TimelineTrack track, int64_t begin_ns, int64_t end_ns,
                      const TimelineArgs& args) {
  const size_t slot = next_.fetch_add(1, std::memory_order_relaxed);
  if (slot < capacity_) new (&events_[slot]) TimelineEvent{begin_ns, end_ns, name, track, args};
}

size_t Timeline::size() const { return std::min(next_.load(), capacity_); }
size_t Timeline::dropped() const { return next_.load() - size(); }

std::string timeline_rank_json(const Timeline& timeline, int rank, const std::string& host) {
  const size_t n = timeline.size();
  std::vector<bool> tracks(1, true);  // the tracks that hold spans (main always named)
  for (size_t i = 0; i < n; ++i) {
    const uint32_t t = uint32_t(timeline[i].track);
    if (t >= tracks.size()) tracks.resize(t + 1, false);
    tracks[t] = true;
  }
  std::string out;
  out.reserve(256 + n * 120);
  metadata_append(out, rank, host, tracks, timeline.clock_error_ns());
  for (size_t i = 0; i < n; ++i) event_append(out, timeline[i], rank);
  return out;
}

TimelineWritten timeline_write(const Timeline& timeline, World& world, const std::string& path,
                               const std::string& host) {
  const int64_t start = steady_now_ns();
  const std::vector<std::string> parts = world.gather(timeline_rank_json(timeline, world.rank(), host), 0);
  uint64_t counts[2] = {timeline.size(), timeline.dropped()};
  world.allreduce_sum(counts, 2);
  TimelineWritten written;
  if (world.rank() != 0) return written;
  std::string text = "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"ranks\":" + std::to_string(world.size()) +
                     ",\"events_dropped\":" + std::to_string(counts[1]) + "},\n\"traceEvents\":[\n";
  for (size_t r = 0; r < parts.size(); ++r) text += (r ? ",\n" : "") + parts[r];
  text += "\n]}\n";
  file_write(path, text);
  written.ranks = world.size();
  written.events = counts[0];
  written.dropped = counts[1];
  written.bytes = text.size();
  written.seconds = double(steady_now_ns() - start) * 1e-9;
  return written;
}

void timeline_check_path(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "a");  // creates it, keeps an old trace until the new one is written
  if (!f) fail(ErrorKind::usage, "--timeline " + path + ": cannot write: " + std::strerror(errno));
  std::fclose(f);
}

}  // namespace digitnet

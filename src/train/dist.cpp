#include "digitnet/train/dist.hpp"

#include <mpi.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {
int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// A thread that watches the collective this rank is in. MPI cannot time out a
// blocking collective itself, and a dead or SIGSTOPped peer would otherwise
// leave every other rank waiting forever. The thread never calls MPI: it
// reports and ends this process, and mpirun/srun end the rest of the job.
class World::Watchdog {
 public:
  Watchdog(double timeout, int rank) : timeout_(timeout), rank_(rank), thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void enter(const char* what) {
    what_.store(what);
    since_.store(steady_ns());
  }
  void leave() { since_.store(0); }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return done_; })) {
      const int64_t since = since_.load();
      if (since == 0) continue;
      const double waited = double(steady_ns() - since) * 1e-9;
      if (waited < timeout_) continue;
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      std::fprintf(stderr,
                   "digitnet-train: rank %d (%s): %s has waited %.0f s for the other ranks: one of them is dead, "
                   "stopped or stuck (--collective-timeout %.0f); ending the job\n",
                   rank_, host, what_.load(), waited, timeout_);
      std::fflush(stderr);
      std::_Exit(int(ErrorKind::runtime));
    }
  }

  const double timeout_;
  const int rank_;
  std::atomic<int64_t> since_{0};
  std::atomic<const char*> what_{""};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it reads
};

// Marks the span of one collective for the watchdog.
class CollectiveScope {
 public:
  CollectiveScope(World& world, const char* what) : dog_(world.watchdog_.get()) {
    if (dog_) dog_->enter(what);
  }
  ~CollectiveScope() {
    if (dog_) dog_->leave();
  }

 private:
  World::Watchdog* dog_;
};

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail(ErrorKind::runtime, std::string(what) + " failed: " + std::string(msg, size_t(len)));
}

// MPI counts are int: split large buffers.
template <class T>
void allreduce_chunks(T* data, size_t n, MPI_Datatype type, MPI_Op op) {
  constexpr size_t kChunk = size_t(INT_MAX);
  for (size_t off = 0; off < n; off += kChunk) {
    const int count = int(std::min(kChunk, n - off));
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
  }
}

// Displacements of blocks laid end to end.
std::vector<int> displacements(const std::vector<int>& counts) {
  std::vector<int> displs(counts.size(), 0);
  for (size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
  return displs;
}

}  // namespace

// Requests in flight; a slot is MPI_REQUEST_NULL once done. The displacement
// arrays live here until their operation completes, as MPI requires.
struct World::Requests {
  std::vector<MPI_Request> requests;
  std::vector<std::vector<int>> displs;
};

std::string launch_problem() {
  // srun sets SLURM_STEP_NUM_TASKS in every task; with --mpi=pmix it also sets
  // PMIX_RANK. Ranks under mpirun have PMIX_RANK (and no SLURM_STEP_NUM_TASKS).
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  if (!tasks || std::getenv("PMIX_RANK") || std::getenv("OMPI_COMM_WORLD_SIZE")) return "";
  const char* plugin = std::getenv("SLURM_MPI_TYPE");
  return std::string("srun started ") + tasks + " task(s) without PMIx (--mpi=" + (plugin ? plugin : "none") +
         "): launch with srun --mpi=pmix (or mpirun inside the allocation)";
}

World::World(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  // SERIALIZED: the exchange thread (--progress thread) calls MPI while the
  // main thread computes, never at the same time as it.
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  else MPI_Query_thread(&provided);
  serialized_ = provided >= MPI_THREAD_SERIALIZED;
  // Errors come back as codes we turn into exceptions with a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (size_ > 1) error_set_rank(rank_);  // errors raised from now on name their rank
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);
  requests_ = std::make_unique<Requests>();
}

World::~World() {
  watchdog_.reset();
  requests_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void World::set_collective_timeout(double seconds) {
  watchdog_.reset();
  if (seconds > 0) watchdog_ = std::make_unique<Watchdog>(seconds, rank_);
}

void World::allreduce_sum(float* data, size_t n) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  allreduce_chunks(data, n, MPI_FLOAT, MPI_SUM);
}
void World::allreduce_sum(double* data, size_t n) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  allreduce_chunks(data, n, MPI_DOUBLE, MPI_SUM);
}
void World::allreduce_sum(uint64_t* data, size_t n) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  allreduce_chunks(data, n, MPI_UINT64_T, MPI_SUM);
}

void World::broadcast(float* data, size_t n, int root) {
  CollectiveScope scope(*this, "MPI_Bcast");
  constexpr size_t kChunk = size_t(INT_MAX);
  for (size_t off = 0; off < n; off += kChunk)
    check(MPI_Bcast(data + off, int(std::min(kChunk, n - off)), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void World::allreduce_max(uint64_t* data, size_t n) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  allreduce_chunks(data, n, MPI_UINT64_T, MPI_MAX);
}

uint64_t World::allreduce_max(uint64_t value) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  allreduce_chunks(&value, 1, MPI_UINT64_T, MPI_MAX);
  return value;
}

bool World::all_equal(uint64_t value) {
  CollectiveScope scope(*this, "MPI_Allreduce");
  uint64_t lo = value, hi = value;
  allreduce_chunks(&lo, 1, MPI_UINT64_T, MPI_MIN);
  allreduce_chunks(&hi, 1, MPI_UINT64_T, MPI_MAX);
  return lo == hi;
}

std::vector<double> World::allgather(double value) {
  CollectiveScope scope(*this, "MPI_Allgather");
  std::vector<double> all(size_t(size_), 0.0);
  check(MPI_Allgather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather");
  return all;
}

namespace {
enum StartKind { kAlltoall, kAlltoallFloat, kAllgatherFloat, kAllgatherU16 };
}

int World::start(const void* data, void* out, const std::vector<int>& counts, int kind) {
  MPI_Request request = MPI_REQUEST_NULL;
  std::vector<int> displs = displacements(counts);
  const int mine = counts[size_t(rank_)];
  switch (kind) {
    case kAlltoall:
    case kAlltoallFloat: {  // send blocks by counts; receive `mine` values from every other rank
      const MPI_Datatype type = kind == kAlltoallFloat ? MPI_FLOAT : MPI_UINT16_T;
      // The own block stays in `data` (the caller reads it there): copying it to
      // itself would be a gradient-sized memcpy per step on memory all ranks share.
      std::vector<int> send_counts = counts, recv_counts(counts.size(), mine), recv_displs(counts.size());
      for (size_t r = 0; r < counts.size(); ++r) recv_displs[r] = int(r) * mine;
      send_counts[size_t(rank_)] = recv_counts[size_t(rank_)] = 0;
      requests_->displs.push_back(std::move(send_counts));
      requests_->displs.push_back(std::move(recv_counts));
      requests_->displs.push_back(std::move(recv_displs));
      const auto& sc = requests_->displs[requests_->displs.size() - 3];
      const auto& rc = requests_->displs[requests_->displs.size() - 2];
      const auto& rd = requests_->displs.back();
      check(MPI_Ialltoallv(data, sc.data(), displs.data(), type, out, rc.data(), rd.data(), type, MPI_COMM_WORLD,
                           &request),
            "MPI_Ialltoallv");
      break;
    }
    default: {
      const MPI_Datatype type = kind == kAllgatherFloat ? MPI_FLOAT : MPI_UINT16_T;
      check(MPI_Iallgatherv(MPI_IN_PLACE, 0, type, out, counts.data(), displs.data(), type, MPI_COMM_WORLD, &request),
            "MPI_Iallgatherv");
    }
  }
  requests_->displs.push_back(std::move(displs));
  requests_->requests.push_back(request);
  return int(requests_->requests.size() - 1);
}

int World::start_alltoall(const uint16_t* send, uint16_t* recv, const std::vector<int>& counts) {
  return start(send, recv, counts, kAlltoall);
}
int World::start_alltoall(const float* send, float* recv, const std::vector<int>& counts) {
  return start(send, recv, counts, kAlltoallFloat);
}
int World::start_allgather(float* data, const std::vector<int>& counts) {
  return start(nullptr, data, counts, kAllgatherFloat);
}
int World::start_allgather(uint16_t* data, const std::vector<int>& counts) {
  return start(nullptr, data, counts, kAllgatherU16);
}

bool World::test(int ticket) {
  MPI_Request& request = requests_->requests.at(size_t(ticket));
  if (request == MPI_REQUEST_NULL) return true;
  int done = 0;
  check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
  return done != 0;
}

void World::wait(int ticket) {
  CollectiveScope scope(*this, "MPI_Wait");
  check(MPI_Wait(&requests_->requests.at(size_t(ticket)), MPI_STATUS_IGNORE), "MPI_Wait");
}

void World::wait_all() {
  CollectiveScope scope(*this, "MPI_Waitall");
  std::vector<MPI_Request>& requests = requests_->requests;
  check(MPI_Waitall(int(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  requests.clear();
  requests_->displs.clear();
}

void World::gather(const float* mine, float* all, const std::vector<int>& counts, int root) {
  CollectiveScope scope(*this, "MPI_Gatherv");
  const std::vector<int> displs = displacements(counts);
  check(MPI_Gatherv(mine, counts[size_t(rank_)], MPI_FLOAT, all, counts.data(), displs.data(), MPI_FLOAT, root,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
}

std::vector<std::string> World::gather(const std::string& mine, int root) {
  CollectiveScope scope(*this, "MPI_Gatherv");
  if (mine.size() > size_t(INT_MAX)) fail(ErrorKind::runtime, "MPI_Gatherv: over 2 GB from one rank");
  const int count = int(mine.size());
  std::vector<int> counts(rank_ == root ? size_t(size_) : 0), offsets(counts.size());
  check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD), "MPI_Gather");
  std::string all;
  if (rank_ == root) {
    size_t total = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
      if (total > size_t(INT_MAX) - size_t(counts[r])) fail(ErrorKind::runtime, "MPI_Gatherv: over 2 GB in all");
      offsets[r] = int(total);
      total += size_t(counts[r]);
    }
    all.resize(total);
  }
  check(MPI_Gatherv(mine.data(), count, MPI_CHAR, all.data(), counts.data(), offsets.data(), MPI_CHAR, root,
                    MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> parts;
  for (size_t r = 0; r < counts.size(); ++r) parts.push_back(all.substr(size_t(offsets[r]), size_t(counts[r])));
  return parts;
}

namespace {

constexpr int kClockTag = 7301;

// True if world rank 0 runs on this rank's node (shares memory with it).
bool shares_node_with_rank0(int rank) {
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int lowest = rank;
  const int rc = MPI_Allreduce(&rank, &lowest, 1, MPI_INT, MPI_MIN, node);
  MPI_Comm_free(&node);
  check(rc, "MPI_Allreduce");
  return lowest == 0;
}

// Rank 0's side of the ping-pong with rank r: rounds go on until one round trip
// is short (a loaded machine delays most of them), but at least kMinRounds and
// for at most kMaxNs; then r learns its offset and the error bound.
void clock_ping(int r) {
  constexpr int kMinRounds = 10, kMaxRounds = 2000;
  constexpr int64_t kShortTripNs = 20'000, kMaxNs = 500'000'000;
  int64_t best_trip = INT64_MAX, verdict[2] = {0, 0};  // offset, error
  const int64_t started = steady_ns();
  for (int k = 0; k < kMaxRounds; ++k) {
    if (k >= kMinRounds && (best_trip <= kShortTripNs || steady_ns() - started > kMaxNs)) break;
    const int64_t sent = steady_ns(), ping = 1;
    int64_t theirs = 0;
    check(MPI_Send(&ping, 1, MPI_INT64_T, r, kClockTag, MPI_COMM_WORLD), "MPI_Send");
    check(MPI_Recv(&theirs, 1, MPI_INT64_T, r, kClockTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    const int64_t back = steady_ns();
    if (back - sent < best_trip) {  // their reading was taken between `sent` and `back`: assume the middle
      best_trip = back - sent;
      verdict[0] = theirs - (sent + back) / 2;
      verdict[1] = (best_trip + 1) / 2;
    }
  }
  const int64_t done = 0;
  check(MPI_Send(&done, 1, MPI_INT64_T, r, kClockTag, MPI_COMM_WORLD), "MPI_Send");
  check(MPI_Send(verdict, 2, MPI_INT64_T, r, kClockTag, MPI_COMM_WORLD), "MPI_Send");
}

// The other side: answers each ping with the time it arrived; a 0 ping ends the rounds.
ClockOffset clock_answer_pings() {
  for (int64_t ping = 1; ping != 0;) {
    check(MPI_Recv(&ping, 1, MPI_INT64_T, 0, kClockTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    const int64_t arrived = steady_ns();
    if (ping) check(MPI_Send(&arrived, 1, MPI_INT64_T, 0, kClockTag, MPI_COMM_WORLD), "MPI_Send");
  }
  int64_t verdict[2];
  check(MPI_Recv(verdict, 2, MPI_INT64_T, 0, kClockTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
  return {verdict[0], verdict[1]};
}

}  // namespace

ClockOffset World::steady_clock_offset(bool measure_on_node) {
  CollectiveScope scope(*this, "clock offset (MPI_Send/MPI_Recv)");
  // On rank 0's node every rank reads the very same clock (CLOCK_MONOTONIC, one
  // per kernel): nothing to estimate, and a loaded machine would only blur it.
  const int measure = measure_on_node || !shares_node_with_rank0(rank_) ? 1 : 0;
  std::vector<int> measured(rank_ == 0 ? size_t(size_) : 0);
  check(MPI_Gather(&measure, 1, MPI_INT, measured.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  if (rank_ != 0) return measure ? clock_answer_pings() : ClockOffset{};
  for (int r = 1; r < size_; ++r)
    if (measured[size_t(r)]) clock_ping(r);
  return {};
}

void World::abort(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

}  // namespace digitnet

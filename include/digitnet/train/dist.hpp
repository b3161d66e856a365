// The only code that calls MPI: the world of ranks, collectives, agreement.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace digitnet {

// Checks, before MPI_Init, that the launcher can give this process an MPI world.
// `srun --mpi=none` or `--mpi=pmi2` (this Open MPI speaks PMIx only) would make
// MPI_Init abort with a page of text; this returns a one-line explanation
// instead ("" when the launch is fine). Reads the environment only.
std::string launch_problem();

struct ClockOffset {
  int64_t ns = 0;        // this rank's clock minus rank 0's
  int64_t error_ns = 0;  // |true offset - ns| is at most this
};

class World {
 public:
  World(int* argc, char*** argv);  // MPI_Init; one World per process
  ~World();                        // MPI_Finalize
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_size() const { return local_size_; }  // ranks on this node

  // In-place sums across all ranks; every rank ends with the same bits.
  void allreduce_sum(float* data, size_t n);
  void allreduce_sum(double* data, size_t n);
  void allreduce_sum(uint64_t* data, size_t n);
  void broadcast(float* data, size_t n, int root);
  uint64_t allreduce_max(uint64_t value);
  void allreduce_max(uint64_t* data, size_t n);  // element-wise, in place
  // True on every rank iff `value` is the same on every rank.
  bool all_equal(uint64_t value);
  // Every rank's `mine`, in rank order, on `root` (empty elsewhere).
  std::vector<std::string> gather(const std::string& mine, int root);
  // This rank's steady_clock minus rank 0's; every rank together. Exactly 0 on
  // rank 0's node (one clock), unless `measure_on_node` (for tests). Elsewhere
  // estimated by ping-pong with rank 0 (Cristian's algorithm): the shortest
  // round trip bounds the error by half of it, microseconds between idle hosts.
  ClockOffset steady_clock_offset(bool measure_on_node = false);
  // Ends every rank of the job now, with this exit status.
  [[noreturn]] void abort(int status);

  // Bounds every collective: a rank that waits longer than `seconds` in one
  // (a peer is dead, stopped or stuck) says so and exits with status 5, and the
  // launcher then ends the others. 0 turns the watchdog off (the default).
  void set_collective_timeout(double seconds);

 private:
  class Watchdog;
  friend class CollectiveScope;
  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace digitnet

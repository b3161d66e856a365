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
  // MPI_THREAD_SERIALIZED: another thread may call MPI while this one does not.
  bool serialized_threads() const { return serialized_; }

  // In-place sums across all ranks; every rank ends with the same bits.
  void allreduce_sum(float* data, size_t n);
  void allreduce_sum(double* data, size_t n);
  void allreduce_sum(uint64_t* data, size_t n);
  void broadcast(float* data, size_t n, int root);
  uint64_t allreduce_max(uint64_t value);
  void allreduce_max(uint64_t* data, size_t n);  // element-wise, in place
  // True on every rank iff `value` is the same on every rank.
  bool all_equal(uint64_t value);
  // Every rank's value, in rank order (the same vector on every rank).
  std::vector<double> allgather(double value);

  // Collectives over a buffer split into one block per rank, in rank order:
  // block r holds counts[r] elements. `counts` must stay alive until the
  // operation completes.
  //
  // Non-blocking ones start and return at once; test_all() lets them progress
  // (Open MPI moves a non-blocking collective only inside MPI calls), wait_all()
  // completes every one started. Each returns a ticket for done(ticket).
  //
  // Block s of `send` goes to rank s; block r of `recv` (counts[rank()] values each)
  // comes from rank r: a reduce-scatter's traffic, summed by the caller in the order
  // it chooses. This rank's own block is not copied: block rank() of `recv` is left
  // as it was, and the caller reads that block from `send`. f32, or 16-bit values
  // (bf16 gradients on the wire).
  int start_alltoall(const uint16_t* send, uint16_t* recv, const std::vector<int>& counts);
  int start_alltoall(const float* send, float* recv, const std::vector<int>& counts);
  // In place: block r of `data` comes from rank r.
  int start_allgather(float* data, const std::vector<int>& counts);
  int start_allgather(uint16_t* data, const std::vector<int>& counts);
  bool test(int ticket);  // true once that operation completed; progresses it
  void wait(int ticket);  // completes that operation (under the watchdog)
  void wait_all();        // completes every started operation (under the watchdog)
  // Blocks of `mine` from every rank land in `all` on `root` (Gatherv).
  void gather(const float* mine, float* all, const std::vector<int>& counts, int root);
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
  struct Requests;  // the MPI requests in flight (mpi.h stays out of this header)
  friend class CollectiveScope;
  int start(const void* data, void* out, const std::vector<int>& counts, int kind);
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool serialized_ = false;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<Requests> requests_;
};

}  // namespace digitnet

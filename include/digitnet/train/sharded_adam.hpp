// The gradient exchange and the optimizer step, sharded across the ranks (ZeRO
// stage 1, Rajbhandari et al. 2020):
//
//   backward writes layer L-1 ... 0  ──► each bucket of layers, once complete, starts a
//                                        reduce-scatter: rank r receives every rank's
//                                        block of its own 1/W slice of the bucket
//                                        (MPI_Ialltoallv) and sums them in rank order
//   after backward                   ──► wait for the buckets; clip by the global norm
//                                        (one small collective of the slices' shares)
//   Adam on this rank's slices only  ──► m and v exist only for them: 1/W per rank
//   allgather the updated slices     ──► every rank holds the same parameters
//
// The bytes on the wire are those of one allreduce (a ring allreduce is exactly a
// reduce-scatter then an allgather); the optimizer's work and memory are 1/W.
// Rank 0 gathers m and v only when a checkpoint is written, so the checkpoint
// format is the replicated one, and a resume on any world size re-shards it.
//
// With GradWire::bf16 the gradients cross the wire as bf16 and are summed in f32
// on the receiving rank, in rank order; the slices' updates then travel as bf16
// too, and every rank (the owner included) applies the same rounded update, so
// the replicas stay bitwise equal.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"

namespace digitnet {

class Timeline;
class World;
enum class TimelineTrack : uint32_t;

enum class GradWire { f32, bf16 };
GradWire grad_wire_parse(const std::string& name);  // "f32" or "bf16"; throws Error(usage)

// Who moves the bucket reductions along while backward computes: the main thread,
// polling with MPI_Test after each layer, or a thread of this rank that runs them.
enum class Progress { poll, thread };
Progress progress_parse(const std::string& name);  // "poll" or "thread"; throws Error(usage)

// Communication of one step, seconds on this rank.
struct CommTimes {
  double total = 0;    // first reduction started -> last one seen done, plus the allgather
  double exposed = 0;  // of which this rank waited, not computing
};

class ShardedAdam : public GradientListener {
 public:
  // Buckets: consecutive layers from the last one back, each closed once it
  // holds at least bucket_bytes of gradient; a larger layer is cut at weight-row
  // boundaries (0: one bucket for the whole model, exchanged after backward).
  ShardedAdam(World& world, const MlpShape& shape, size_t bucket_bytes, GradWire wire,
              Progress progress = Progress::poll);
  ~ShardedAdam();

  // This rank's slices of the replicated state (moments absent: zeros).
  void load(const AdamState& full);
  // The replicated state on rank 0 (others get the step only). Collective.
  AdamState gather() const;
  size_t state_bytes() const { return 2 * sizeof(float) * local_; }  // m and v held here
  size_t num_buckets() const { return buckets_.size(); }
  // Bucket k's parameters [first, second), in the order they are exchanged.
  std::vector<std::pair<size_t, size_t>> bucket_ranges() const;
  Progress progress() const { return worker_ ? Progress::thread : Progress::poll; }

  // One step, on every rank: begin, then backward with this as its listener,
  // then update, then finish_allgather.
  void begin(const float* grads, uint64_t step = 0);
  // --timeline: on the main track the waits ("reduce" per bucket, "allgather") and
  // each bucket's "optimizer"; on a track per bucket its reduction, from its start
  // until seen done, and its allgather, from its start until completed.
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }
  void layer_done(size_t layer) override;
  void input_gradient_done(size_t layer) override;
  // Each bucket, as its reduction completes: the ranks' blocks of this rank's
  // slice summed, Adam on the slice, and its allgather started, so a bucket's
  // optimizer and allgather run while the next one is still being reduced.
  // clip_norm > 0: first every bucket, then the gradient scaled to at most that
  // global norm (computed from the slices, the same factor on every rank).
  void update(const AdamConfig& cfg, float* params, const DecayRanges& decayed, double clip_norm = 0);
  // Completes the allgathers: every rank holds the same parameters.
  void finish_allgather(float* params);
  const CommTimes& times() const { return times_; }

 private:
  struct Bucket {
    size_t begin = 0, end = 0;  // parameter indices
    size_t first_layer = 0;     // its lowest layer: complete when backward has done it
    std::vector<int> counts;    // slice sizes, rank by rank
    size_t mine = 0;            // global index of this rank's slice
    size_t local = 0;           // where it starts in this rank's state
    int ticket = -1;            // the reduction in flight
    bool done = false;          // seen complete by a poll
    int64_t start_ns = 0;       // on the timeline's clock: reduction started
    int64_t gather_ns = 0;      // allgather started
  };
  class Worker;  // the exchange thread of Progress::thread
  static std::vector<Bucket> bucket_layout(const MlpShape& shape, size_t bucket_bytes);
  size_t my_count(const Bucket& b) const;
  void start_reduce(Bucket& b);
  void hand_over(size_t buckets);  // buckets [0, buckets) are ready to reduce
  void poll();
  void seen_done(size_t k);  // bucket k's reduction has completed
  size_t bucket_bytes(const Bucket& b) const;  // on the wire, each way
  static TimelineTrack bucket_track(size_t k);
  void wait_reduced(size_t k);
  void sum_blocks(const Bucket& b, size_t from, size_t to);
  const float* summed(const Bucket& b) const;  // this rank's summed slice of b
  double global_norm() const;                  // of the summed gradient; the same bits on every rank
  void update_bucket(const AdamConfig& cfg, const Bucket& b, float* params, const DecayRanges& decayed,
                     bool sum_first);
  void start_allgather(Bucket& b, float* params);

  World& world_;
  const GradWire wire_;
  const size_t W_;
  std::vector<Bucket> buckets_;  // last layer first
  size_t local_ = 0;             // parameters this rank updates
  AdamState state_;              // step, and m, v of this rank's slices
  const float* grads_ = nullptr;
  std::vector<float> summed_;    // this rank's summed gradient slices (W > 1)
  std::vector<float> blocks_in_;  // f32 wire: every rank's block of this rank's slices
  std::vector<uint16_t> wire_out_, wire_in_;  // bf16 wire buffers
  std::vector<float> before_;                 // bf16 wire: a chunk of a slice before its update
  size_t next_ = 0;              // next bucket to start
  CommTimes times_;
  double first_start_ = 0, last_done_ = 0;  // first reduction started, latest seen done
  double reduced_ = 0, gathering_ = 0;      // all reductions seen done; first allgather started
  int gather_ticket_ = -1;                   // the latest allgather in flight
  Timeline* timeline_ = nullptr;
  uint64_t step_ = 0;
  std::unique_ptr<Worker> worker_;  // last: its thread stops before the rest goes
};

}  // namespace digitnet

// The training loop: next batch -> forward -> loss -> backward -> allreduce ->
// Adam step -> (maybe) checkpoint, identically on every rank.
#include "digitnet/train/train.hpp"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include "digitnet/core/error.hpp"
#include "digitnet/train/augment.hpp"
#include "digitnet/train/dist.hpp"
#include "digitnet/train/prefetch.hpp"
#include "digitnet/train/setup.hpp"
#include "digitnet/train/sharded_adam.hpp"
#include "digitnet/train/stop.hpp"
#include "digitnet/train/timeline.hpp"

namespace digitnet {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int node_cores() { return int(std::max(1u, std::thread::hardware_concurrency())); }

// Threads per rank: the node's cores shared among its ranks, never more than
// the cores this process may run on (mpirun binds ranks to cores by default).
int threads_per_rank(int requested, const World& world) {
  if (requested > 0) return requested;
  int share = std::max(1, node_cores() / std::max(1, world.local_size()));
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) share = std::min(share, std::max(1, CPU_COUNT(&set)));
  return share;
}

uint64_t hash_params(const std::vector<float>& p) {  // FNV-1a over the bytes
  uint64_t h = 1469598103934665603ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(p.data());
  for (size_t i = 0; i < p.size() * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

std::string hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

// Called by every rank, failed or not: if any rank failed, every rank learns the
// exit status and the failed ranks say why (rank 0 alone when it failed too, as
// the same bad input usually fails everywhere). Returns 0 if all succeeded.
int agree_on_failure(World& world, const Error* error, bool verbose) {
  const uint64_t status = world.allreduce_max(error ? uint64_t(error->exit_code()) : 0);
  if (status == 0) return 0;
  const bool rank0_failed = world.allreduce_max(world.rank() == 0 && error) != 0;
  if (error && (world.rank() == 0 || !rank0_failed)) {
    const std::string program = world.size() > 1 ? "digitnet-train: rank " + std::to_string(world.rank()) : "digitnet-train";
    std::fprintf(stderr, "%s\n", error_line(program.c_str(), *error, verbose).c_str());
  }
  return int(status);
}

// The data and the state to start from on every rank, and the checkpoint
// directory on rank 0; all ranks agree it worked. Returns 0 or the exit status.
int setup_everywhere(const TrainOptions& opts, World& world, TrainStart& start) {
  std::unique_ptr<Error> error;
  try {
    start = train_setup(opts, world.size());
    if (world.rank() == 0 && !opts.checkpoint_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(opts.checkpoint_dir, ec);
      if (ec) fail(ErrorKind::usage, "--checkpoint-dir " + opts.checkpoint_dir + ": " + ec.message());
    }
    if (world.rank() == 0 && !opts.timeline_path.empty()) timeline_check_path(opts.timeline_path);
  } catch (const Error& e) {
    error = std::make_unique<Error>(e);
  }
  return agree_on_failure(world, error.get(), opts.verbose);
}

// Rank 0 writes checkpoints: a Snapshot of the live state, built only here.
class CheckpointWriter {
 public:
  CheckpointWriter(const TrainOptions& opts, const World& world, int threads, Timeline* timeline)
      : dir_(opts.checkpoint_dir), keep_(opts.keep), active_(world.rank() == 0 && !dir_.empty()), timeline_(timeline) {
    run_.world_size = uint32_t(world.size());
    run_.threads = uint32_t(threads);
    run_.hostname = hostname();
    if (const char* job = std::getenv("SLURM_JOB_ID")) run_.slurm_job_id = job;
  }
  // ckpt-<step>.pb (then --keep applies), or best.pb for the best evaluation so far.
  // Returns what it wrote, and how long that took (nothing on other ranks).
  CheckpointCost write(const TrainState& state, const std::vector<float>& params, bool best) {
    if (!active_) return {};
    TimelineSpan span(timeline_, "checkpoint", {int64_t(state.step)});
    const auto start = Clock::now();
    run_.unix_time = int64_t(std::time(nullptr));
    CheckpointCost cost;
    cost.path = dir_ + "/" + (best ? "best.pb" : checkpoint_name(state.step));
    snapshot_save(cost.path, Snapshot{state, params, run_});
    if (!best) checkpoint_prune(dir_, keep_);
    std::error_code ec;
    cost.bytes = uint64_t(std::filesystem::file_size(cost.path, ec));
    cost.seconds = seconds_since(start);
    return cost;
  }

 private:
  std::string dir_;
  size_t keep_;
  bool active_;
  Timeline* timeline_;
  RunMetadata run_;
};

// Everything the loop works with on this rank.
struct Run {
  Run(const TrainOptions& o, World& w, TrainStart&& s, int threads)
      : opts(o), world(w), start(std::move(s)), state(start.state), model(state.model.shape),
        optimizer(w, state.model.shape, size_t(o.bucket_mb * 1e6), o.grad_wire, o.progress),
        // Every rank together (clocks aligned), or nothing at all when --timeline is off.
        timeline(o.timeline_path.empty() ? nullptr : std::make_unique<Timeline>(w)),
        augmenter(state.recipe.augment), report(o, w.rank() == 0 && !o.quiet, w.rank() == 0),
        writer(o, w, threads, timeline.get()), steps(steps_per_epoch(start.train.count, state.batch_size)),
        test_shard(shard_range(start.test.count, w.size(), w.rank())),
        // Prefetch only with a core to spare: when the ranks' threads fill the node, a
        // prefetch thread competes with the step (measured by digitnet-bench-augment:
        // 1 rank x 2 threads on 2 cores, 4.6 ms/step with it against 3.8 ms inline).
        prefetch(state.recipe.augment.enabled() && w.local_size() * threads < node_cores()) {
    model.params() = start.params;
    // Rank 0's parameters are the truth: replicas start bitwise equal whatever happened before.
    world.broadcast(model.params().data(), model.params().size(), 0);
    // The optimizer keeps this rank's slices of the moments; the full ones return
    // to the state only while a checkpoint is written.
    optimizer.load(state.adam);
    state.adam = AdamState{};
    model.set_regularization(state.recipe.reg);
    model.set_precision(state.recipe.precision);
    plan.lr = recipe_lr_plan(state.recipe, state.batch_size, steps, state.epochs);
    for (const LayerSlice& l : mlp_layout(state.model.shape)) plan.decayed.emplace_back(l.weight_offset, l.bias_offset);
    plan.check_replicas = o.check_replicas;
    plan.timeline = timeline.get();
    optimizer.set_timeline(timeline.get());
  }

  // Rank 0's clock decides --checkpoint-every-seconds; the step agreement tells the others.
  bool checkpoint_wanted() const {
    return world.rank() == 0 && opts.checkpoint_every_seconds > 0 &&
           seconds_since(last_checkpoint) >= opts.checkpoint_every_seconds;
  }
  // On every rank: the moments gathered to rank 0, which writes ckpt-<step>.pb (and
  // best.pb too when `best`). Returns what rank 0 wrote.
  CheckpointCost checkpoint(bool best) {
    if (opts.checkpoint_dir.empty()) return {};
    state.adam = optimizer.gather();
    const CheckpointCost cost = writer.write(state, model.params(), false);
    if (best) writer.write(state, model.params(), true);
    state.adam = AdamState{};
    last_checkpoint = Clock::now();
    return cost;
  }
  // A checkpoint between two steps of an epoch (epoch ends write their own).
  void checkpoint_inside_epoch(bool agreed) {
    const bool every_steps = opts.checkpoint_every_steps && state.step % opts.checkpoint_every_steps == 0;
    if (!(agreed || every_steps) || state.step_in_epoch == steps || opts.checkpoint_dir.empty()) return;
    report.cadence_checkpoint(checkpoint(false));
  }

  const TrainOptions& opts;
  World& world;
  TrainStart start;
  TrainState& state;
  Mlp model;
  ShardedAdam optimizer;
  const std::unique_ptr<Timeline> timeline;  // null: --timeline is off
  StepPlan plan;
  const Augmenter augmenter;
  Reporter report;
  CheckpointWriter writer;
  const size_t steps;  // per epoch
  const Range test_shard;
  const bool prefetch;
  Clock::time_point last_checkpoint = Clock::now();  // rank 0's, for --checkpoint-every-seconds
};

// The batches of one epoch in order, from step `first` on: gathered inline, or
// one step ahead by a prefetch thread. A sample's distortion depends on (seed,
// epoch, sample), never on the rank.
class EpochBatches {
 public:
  EpochBatches(const Run& run, uint64_t epoch, size_t first)
      : run_(run), epoch_(epoch), perm_(epoch_permutation(run.start.train.count, run.state.seed, epoch)), next_(first),
        first_step_(run.state.step - first) {
    if (run.prefetch)
      prefetch_ = std::make_unique<Prefetcher<ShardBatch>>(
          run.steps - first, [this, first](size_t k, ShardBatch& out) { gather(first + k, out); });
  }
  const ShardBatch& next() {
    const size_t step = next_++;
    if (prefetch_) {
      TimelineSpan span(run_.timeline.get(), "batch wait", {int64_t(first_step_ + step)});  // exposed data loading
      return prefetch_->next();
    }
    gather(step, inline_);
    return inline_;
  }

 private:
  void gather(size_t step, ShardBatch& out) const {
    TimelineSpan span(run_.timeline.get(), "gather", {int64_t(first_step_ + step)},
                      run_.prefetch ? TimelineTrack::prefetch : TimelineTrack::main);
    const Dataset& train = run_.start.train;
    const TrainState& s = run_.state;
    out.batch = batch_range(train.count, s.batch_size, step);
    out.mine = shard_range(out.batch.size(), run_.world.size(), run_.world.rank());
    const uint32_t* idx = perm_.data() + out.batch.begin + out.mine.begin;
    const size_t n = out.mine.size();
    out.x.resize(n * train.features());
    out.labels.resize(n);
    if (s.recipe.augment.enabled())
      batch_gather_augmented(train, s.model.input, run_.augmenter, s.seed, epoch_, idx, n, out.x.data(), out.labels.data());
    else
      batch_gather(train, s.model.input, idx, n, out.x.data(), out.labels.data());
  }

  const Run& run_;
  const uint64_t epoch_;
  const std::vector<uint32_t> perm_;
  size_t next_;
  const uint64_t first_step_;  // global step of the epoch's step 0
  ShardBatch inline_;
  std::unique_ptr<Prefetcher<ShardBatch>> prefetch_;  // last: joined before the rest goes
};

// The epoch's record: train sums and the sharded test evaluation, reduced
// across ranks; the replicas are checked to be bitwise equal.
EpochRecord epoch_record(Run& run, const StepSums& sums, bool evaluate, Clock::time_point epoch_start,
                         size_t epoch_samples) {
  const TrainState& s = run.state;
  const Dataset& test = run.start.test;
  EvalResult eval(s.model.shape.classes);
  if (evaluate) {
    TimelineSpan span(run.timeline.get(), "evaluate", {int64_t(s.step)});
    eval = run.model.evaluate(test, s.model.input, run.test_shard);
  }
  double dsum[2] = {sums.loss, eval.loss_sum};
  uint64_t usum[3] = {sums.correct, sums.count, eval.correct};
  run.world.allreduce_sum(dsum, 2);
  run.world.allreduce_sum(usum, 3);
  if (!run.world.all_equal(hash_params(run.model.params())))
    fail(ErrorKind::runtime, "replicas diverged by step " + std::to_string(s.step) + " (parameters differ across ranks)");
  EpochRecord rec;
  rec.seconds = seconds_since(epoch_start);
  rec.epoch = s.epoch;
  rec.step = s.step;
  rec.train_loss = usum[1] ? dsum[0] / double(usum[1]) : 0;
  rec.train_accuracy = usum[1] ? double(usum[0]) / double(usum[1]) : 0;
  rec.test_loss = evaluate ? dsum[1] / double(test.count) : std::nan("");
  rec.test_accuracy = evaluate ? double(usum[2]) / double(test.count) : std::nan("");
  rec.samples_per_second = double(epoch_samples) / rec.seconds;
  rec.allreduce_fraction = sums.comm_exposed_seconds / rec.seconds;
  rec.comm_total_fraction = sums.comm_total_seconds / rec.seconds;
  return rec;
}

// After the steps of an epoch (all of them, or up to a stop): metrics, the test
// set when due, the best so far and early stop, rank 0's report and checkpoints.
void epoch_end(Run& run, const StepSums& sums, Clock::time_point epoch_start, size_t epoch_samples, StopReason& stop) {
  TrainState& s = run.state;
  const bool epoch_done = s.step_in_epoch == run.steps;
  if (epoch_done) {
    ++s.epoch;
    s.step_in_epoch = 0;
  }
  // The test set is scored every eval_every epochs, at the end, and at --max-steps;
  // not after a stop signal (a preempted job should leave quickly).
  const bool last_epoch = s.epoch >= s.epochs;
  const bool evaluate =
      (epoch_done && (s.epoch % s.recipe.eval_every == 0 || last_epoch)) || stop.kind == StopReason::max_steps;
  const EpochRecord rec = epoch_record(run, sums, evaluate, epoch_start, epoch_samples);
  s.history.push_back(rec);
  // best.pb keeps the best evaluation; early stop counts the evaluations since.
  const bool improved = evaluate && s.best.update(rec.test_accuracy, s.step);
  const bool early = s.recipe.early_stop && s.best.evals_since >= s.recipe.early_stop && !last_epoch;
  run.report.epoch(rec, evaluate, epoch_done, s, run.steps);
  if (early) run.report.early_stop(s);
  run.checkpoint(improved);
  if (early) stop.kind = StopReason::early_stop;
}

// --timeline: rank 0 writes every rank's spans, also after a stop signal or
// --max-steps. A file that cannot be written costs the trace, not the run.
void timeline_finish(Run& run) {
  if (!run.timeline) return;
  try {
    run.report.timeline(timeline_write(*run.timeline, run.world, run.opts.timeline_path, hostname()));
  } catch (const Error& e) {
    run.report.timeline_failed(e.what());
  }
}

}  // namespace

StepAgreement train_step(World& world, Mlp& model, ShardedAdam& optimizer, TrainState& state, const StepPlan& plan,
                         const ShardBatch& shard, StepSums& sums, bool want_checkpoint) {
  // forward, loss, backward: gradient of the mean loss over the GLOBAL batch; each
  // bucket's reduction starts as soon as backward has written it
  const DropoutDraw draw{state.seed, state.step, shard.mine.begin};
  const TimelineArgs at{int64_t(state.step)};
  optimizer.begin(model.grads().data(), state.step);
  {
    TimelineSpan span(plan.timeline, "forward", at);
    sums.loss += model.forward_loss(shard.x.data(), shard.labels.data(), shard.mine.size(),
                                    1.f / float(shard.batch.size()), &sums.correct, &draw);
  }
  {
    TimelineSpan span(plan.timeline, "backward", at);
    model.backward(shard.x.data(), shard.mine.size(), &draw, &optimizer);
  }
  sums.count += shard.mine.size();

  // Adam on this rank's slices at the schedule's rate for this step, each bucket
  // as soon as the ranks' sum of it has arrived; then its allgather starts
  AdamConfig step_cfg = state.recipe.adam;
  step_cfg.lr = lr_at(plan.lr, state.step);
  optimizer.update(step_cfg, model.params().data(), plan.decayed, state.recipe.clip_grad_norm);

  // A stop signal on any rank stops every rank after this same step: the ranks
  // combine what they received once per step, so none is left inside a
  // collective and the checkpoint after it is the state of all of them. (It
  // runs while the allgathers are in flight.)
  uint64_t agree[2] = {uint64_t(stop_signal_received()), uint64_t(want_checkpoint)};
  if (world.size() > 1) {  // exposed too: a rank that arrives first waits here for the others
    TimelineSpan span(plan.timeline, "agree", at);
    const auto start = Clock::now();
    world.allreduce_max(agree, 2);
    sums.comm_exposed_seconds += seconds_since(start);
  }
  optimizer.finish_allgather(model.params().data());  // every rank holds the same parameters
  sums.comm_total_seconds += optimizer.times().total;
  sums.comm_exposed_seconds += optimizer.times().exposed;
  ++state.step;
  ++state.step_in_epoch;

  if (plan.check_replicas && !world.all_equal(hash_params(model.params())))
    fail(ErrorKind::runtime, "replicas diverged at step " + std::to_string(state.step));
  return {int(agree[0]), agree[1] != 0};
}

int train_run(const TrainOptions& opts, World& world) {
  stop_signals_install();  // (main installs it earlier; a no-op then) a signal during the data loading stops at the first step
  const int threads = threads_per_rank(opts.threads, world);
  omp_set_num_threads(threads);
  flush_denormals_to_zero();

  TrainStart start;
  if (int status = setup_everywhere(opts, world, start)) return status;
  world.set_collective_timeout(opts.collective_timeout);
  Run run(opts, world, std::move(start), threads);
  TrainState& s = run.state;
  run.report.start(run.start, world.size(), threads, run.plan.lr, run.steps);
  run.report.exchange(run.optimizer, opts, world.size());

  StopReason stop;
  if (s.max_steps && s.step >= s.max_steps) stop.kind = StopReason::max_steps;
  while (s.epoch < s.epochs && !stop.any()) {
    const auto epoch_start = Clock::now();
    StepSums sums;
    size_t samples = 0;
    {
      EpochBatches batches(run, s.epoch, s.step_in_epoch);
      while (s.step_in_epoch < run.steps && !stop.any()) {
        StepAgreement agreed;
        {
          TimelineSpan span(run.timeline.get(), "step", {int64_t(s.step)});
          const ShardBatch& shard = batches.next();
          samples += shard.batch.size();
          agreed = train_step(world, run.model, run.optimizer, s, run.plan, shard, sums, run.checkpoint_wanted());
        }
        if (agreed.stop_signal)
          stop = {StopReason::signal, agreed.stop_signal};
        else if (s.max_steps && s.step >= s.max_steps)
          stop.kind = StopReason::max_steps;
        else
          run.checkpoint_inside_epoch(agreed.checkpoint);
      }
    }  // joins the prefetch thread (it finishes a batch already started)
    epoch_end(run, sums, epoch_start, samples, stop);
  }
  timeline_finish(run);
  return run.report.finish(stop, s);
}

}  // namespace digitnet

// The training loop: next batch -> forward -> loss -> backward -> allreduce ->
// Adam step -> (maybe) checkpoint, identically on every rank.
#include "digitnet/train/train.hpp"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <filesystem>
#include <fstream>
#include <thread>

#include "digitnet/train/augment.hpp"
#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/data.hpp"
#include "digitnet/train/dist.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/train/prefetch.hpp"
#include "digitnet/core/shard.hpp"
#include "digitnet/train/stop.hpp"

namespace digitnet {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Threads per rank: the node's cores shared among its ranks, never more than
// the cores this process may run on (mpirun binds ranks to cores by default).
int threads_per_rank(int requested, const World& world) {
  if (requested > 0) return requested;
  const int node_cores = int(std::max(1u, std::thread::hardware_concurrency()));
  int share = std::max(1, node_cores / std::max(1, world.local_size()));
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

std::string fmt_duration(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
  return buf;
}

// Finds the checkpoint --resume names: a file, a directory's newest valid
// checkpoint, or "latest" in --checkpoint-dir. Corrupt newer files are skipped
// with a warning so that the last good checkpoint is used.
Snapshot resume_load(const TrainOptions& o, bool speak, std::string& used) {
  std::string dir = o.resume == "latest" || o.resume == "auto" ? o.checkpoint_dir : o.resume;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    used = o.resume;
    return checkpoint_load(o.resume);
  }
  auto all = checkpoint_list(dir);
  if (all.empty()) fail(ErrorKind::checkpoint, "--resume " + o.resume + ": no ckpt-*.pb in " + dir);
  for (size_t i = all.size(); i-- > 0;) {
    try {
      Snapshot s = checkpoint_load(all[i]);
      used = all[i];
      return s;
    } catch (const Error& e) {
      if (speak) std::fprintf(stderr, "digitnet-train: warning: skipping %s\n", e.what());
    }
  }
  fail(ErrorKind::checkpoint, "--resume " + o.resume + ": no valid checkpoint in " + dir);
}

// Refuses to resume with settings that would change the model or the data order.
void resume_check(const TrainOptions& o, const Snapshot& s, const MlpShape& shape, const Dataset& train,
                  const std::string& path) {
  auto refuse = [&](const std::string& what) {
    fail(ErrorKind::checkpoint, path + ": cannot resume: " + what);
  };
  if (s.rows != train.rows || s.cols != train.cols)
    refuse("checkpoint images are " + std::to_string(s.rows) + "x" + std::to_string(s.cols) + ", data is " +
           std::to_string(train.rows) + "x" + std::to_string(train.cols));
  if (s.shape.classes != shape.classes)
    refuse("checkpoint has " + std::to_string(s.shape.classes) + " classes, data has " + std::to_string(shape.classes));
  if (s.train_count != train.count)
    refuse("checkpoint was trained on " + std::to_string(s.train_count) + " samples, data has " +
           std::to_string(train.count));
  if (o.given.count("hidden") && s.shape.hidden != o.hidden)
    refuse("checkpoint layers are " + s.shape.str() + ", --hidden asks for " + shape.str());
  if (o.given.count("batch-size") && s.batch_size != o.batch_size)
    refuse("checkpoint global batch is " + std::to_string(s.batch_size) + ", --batch-size asks for " +
           std::to_string(o.batch_size) + " (the data order depends on it)");
  if (o.given.count("seed") && s.seed != o.seed)
    refuse("checkpoint seed is " + std::to_string(s.seed) + ", --seed asks for " + std::to_string(o.seed));
  if (s.adam_state.m.empty()) refuse("it holds no optimizer state (model-only checkpoint)");
}

struct EpochSums {  // reduced across ranks at the end of an epoch
  double loss = 0;
  uint64_t correct = 0, count = 0;
};

// Everything a rank needs before the first step: data and the state to start from.
struct Setup {
  Dataset train, test;
  Snapshot state;
  std::string resumed_from;
};

Setup setup_load(const TrainOptions& opts, const World& world, bool speak) {
  Setup su;
  su.train = dataset_load_split(opts.data_dir, "train");
  su.test = dataset_load_split(opts.data_dir, "t10k");
  if (opts.train_limit) dataset_truncate(su.train, opts.train_limit);
  const Dataset& train = su.train;
  const Dataset& test = su.test;
  if (test.rows != train.rows || test.cols != train.cols)
    fail(ErrorKind::data, opts.data_dir + ": test images are " + std::to_string(test.rows) + "x" +
                              std::to_string(test.cols) + ", training images " + std::to_string(train.rows) + "x" +
                              std::to_string(train.cols));
  if (train.num_classes < 2) fail(ErrorKind::data, opts.data_dir + ": training labels hold fewer than 2 classes");
  if (test.num_classes > train.num_classes)
    fail(ErrorKind::data, opts.data_dir + ": test labels go up to " + std::to_string(test.num_classes - 1) +
                              ", training labels only to " + std::to_string(train.num_classes - 1));

  Snapshot& state = su.state;
  std::string& resumed_from = su.resumed_from;
  // --resume auto: a requeued job resumes, its first run starts fresh.
  const bool resume = !opts.resume.empty() && !(opts.resume == "auto" && checkpoint_list(opts.checkpoint_dir).empty());
  if (resume) {
    MlpShape wanted{uint32_t(train.features()), opts.hidden, train.num_classes};
    state = resume_load(opts, speak, resumed_from);
    // A run on the first N samples continues on them unless told otherwise.
    if (!opts.given.count("train-limit") && state.train_count) dataset_truncate(su.train, state.train_count);
    resume_check(opts, state, wanted, train, resumed_from);
    // Settings not given now continue as recorded; lr and the like may be changed on purpose.
    if (!opts.given.count("epochs")) state.epochs = std::max<uint64_t>(state.epochs, 1);
    else state.epochs = opts.epochs;
    state.max_steps = opts.max_steps;  // a limit of this invocation, not of the run
    recipe_override(opts, state.recipe, state.adam);
  } else {
    state.shape = MlpShape{uint32_t(train.features()), opts.hidden, train.num_classes};
    state.rows = train.rows;
    state.cols = train.cols;
    state.input = input_norm_fit(train);
    state.batch_size = opts.batch_size;
    state.seed = opts.seed;
    state.epochs = opts.epochs;
    state.max_steps = opts.max_steps;
    state.train_count = train.count;
    state.adam = opts.adam;
    state.recipe = opts.recipe;
    state.params.resize(state.shape.num_params());
    mlp_init(state.shape, state.seed, state.params.data());
    state.adam_state.reset(state.params.size());
  }
  if (state.batch_size < uint64_t(world.size()))
    fail(ErrorKind::usage, "--batch-size " + std::to_string(state.batch_size) + " is smaller than the " +
                               std::to_string(world.size()) + " ranks: every rank needs at least one sample");
  state.world_size = uint32_t(world.size());
  state.hostname = hostname();
  if (const char* job = std::getenv("SLURM_JOB_ID")) state.slurm_job_id = job;
  if (world.rank() == 0 && !opts.checkpoint_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.checkpoint_dir, ec);
    if (ec) fail(ErrorKind::usage, "--checkpoint-dir " + opts.checkpoint_dir + ": " + ec.message());
  }
  return su;
}

// Called by every rank, failed or not: if any rank failed, every rank learns the
// exit status and the failed ranks say why (rank 0 alone when it failed too, as
// the same bad input usually fails everywhere). Returns 0 if all succeeded.
int agree_on_failure(World& world, const Error* error) {
  const uint64_t status = world.allreduce_max(error ? uint64_t(error->exit_code()) : 0);
  if (status == 0) return 0;
  const bool rank0_failed = world.allreduce_max(world.rank() == 0 && error) != 0;
  if (error && (world.rank() == 0 || !rank0_failed)) {
    if (world.size() > 1) std::fprintf(stderr, "digitnet-train: rank %d: %s\n", world.rank(), error->what());
    else std::fprintf(stderr, "digitnet-train: %s\n", error->what());
  }
  return int(status);
}

}  // namespace

int train_run(const TrainOptions& opts, World& world) {
  stop_signals_install();  // first: a signal during the data loading stops at the first step
  const bool speak = world.rank() == 0 && !opts.quiet;
  const int threads = threads_per_rank(opts.threads, world);
  omp_set_num_threads(threads);
  flush_denormals_to_zero();

  // ---- setup: data and state (fresh or resumed); all ranks agree it worked ----
  Setup su;
  {
    std::unique_ptr<Error> error;
    try {
      su = setup_load(opts, world, speak);
    } catch (const Error& e) {
      error = std::make_unique<Error>(e);
    }
    if (int status = agree_on_failure(world, error.get())) return status;
  }
  const Dataset& train = su.train;
  const Dataset& test = su.test;
  Snapshot& state = su.state;
  const std::string& resumed_from = su.resumed_from;
  state.threads = uint32_t(threads);
  world.set_collective_timeout(opts.collective_timeout);

  Mlp model(state.shape);
  model.params() = state.params;
  // Rank 0's parameters are the truth: replicas start bitwise equal whatever happened before.
  world.broadcast(model.params().data(), model.params().size(), 0);
  AdamState& adam = state.adam_state;
  const Recipe& recipe = state.recipe;
  model.set_regularization(recipe.reg);
  const Augmenter augmenter(recipe.augment);
  const int node_cores = int(std::max(1u, std::thread::hardware_concurrency()));

  const size_t N = train.count, B = state.batch_size, W = size_t(world.size());
  const size_t steps = steps_per_epoch(N, B);
  const size_t features = train.features();
  const Range test_shard = shard_range(test.count, world.size(), world.rank());
  const LrPlan lr_plan = recipe_lr_plan(recipe, state.adam.lr, B, steps, state.epochs);
  DecayRanges decayed;  // weight decay on weights, not on biases
  for (const LayerSlice& l : mlp_layout(state.shape)) decayed.emplace_back(l.weight_offset, l.bias_offset);

  auto snapshot_write = [&](const std::vector<float>& params) {
    if (world.rank() != 0 || opts.checkpoint_dir.empty()) return;
    state.params = params;
    state.unix_time = int64_t(std::time(nullptr));
    const std::string path = opts.checkpoint_dir + "/" + checkpoint_name(state.step);
    checkpoint_save(path, state);
    checkpoint_prune(opts.checkpoint_dir, opts.keep);
  };
  auto best_write = [&](const std::vector<float>& params) {  // best.pb: the best evaluation so far
    if (world.rank() != 0 || opts.checkpoint_dir.empty()) return;
    state.params = params;
    checkpoint_save(opts.checkpoint_dir + "/best.pb", state);
  };

  FILE* metrics = nullptr;
  if (world.rank() == 0 && !opts.metrics_path.empty()) {
    const bool fresh = !std::filesystem::exists(opts.metrics_path);
    metrics = std::fopen(opts.metrics_path.c_str(), "a");
    if (!metrics) fail(ErrorKind::usage, "--metrics " + opts.metrics_path + ": cannot open for writing");
    if (fresh)
      std::fprintf(metrics, "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,seconds,samples_per_second,allreduce_fraction\n");
  }

  if (speak) {
    std::printf("digitnet-train: %zu rank%s x %d thread%s | model %s (%zu parameters) | %zu train / %zu test images %ux%u\n",
                W, W > 1 ? "s" : "", threads, threads > 1 ? "s" : "", state.shape.str().c_str(),
                state.shape.num_params(), N, test.count, train.rows, train.cols);
    std::printf("digitnet-train: global batch %zu (%zu-%zu per rank), %zu steps/epoch, %llu epochs, Adam lr %g (%s), seed %llu\n",
                B, B / W, (B + W - 1) / W, steps, (unsigned long long)state.epochs, lr_plan.lr,
                lr_schedule_name(recipe.lr_schedule).c_str(), (unsigned long long)state.seed);
    if (!recipe.preset.empty()) std::printf("digitnet-train: preset %s\n", recipe.preset.c_str());
    if (!resumed_from.empty())
      std::printf("digitnet-train: resumed from %s at step %llu (epoch %llu, step %llu of it)\n", resumed_from.c_str(),
                  (unsigned long long)state.step, (unsigned long long)state.epoch + 1,
                  (unsigned long long)state.step_in_epoch);
    if (opts.checkpoint_dir.empty()) std::printf("digitnet-train: no --checkpoint-dir: no checkpoints will be written\n");
    std::fflush(stdout);
  }

  // ---- the loop ----
  // This rank's slice of global batch s, gathered (and distorted: the distortion
  // depends on (seed, epoch, sample), never on the rank) into `out`. With
  // augmentation a prefetch thread prepares batch s+1 during step s.
  struct ShardBatch {
    std::vector<float> x;
    std::vector<int32_t> labels;
  };
  auto gather = [&](const std::vector<uint32_t>& perm, uint64_t epoch, size_t s, ShardBatch& out) {
    const Range batch = batch_range(N, B, s);
    const Range mine = shard_range(batch.size(), world.size(), world.rank());
    const uint32_t* idx = perm.data() + batch.begin + mine.begin;
    out.x.resize(mine.size() * features);
    out.labels.resize(mine.size());
    if (recipe.augment.enabled())
      batch_gather_augmented(train, state.input, augmenter, state.seed, epoch, idx, mine.size(), out.x.data(),
                             out.labels.data());
    else
      batch_gather(train, state.input, idx, mine.size(), out.x.data(), out.labels.data());
  };
  ShardBatch inline_batch;
  const auto run_start = Clock::now();
  const uint64_t first_step = state.step;

  bool stop = state.max_steps && state.step >= state.max_steps;
  int stopped_by_signal = 0;
  while (state.epoch < state.epochs && !stop) {
    const auto epoch_start = Clock::now();
    const std::vector<uint32_t> perm = epoch_permutation(N, state.seed, state.epoch);
    EpochSums sums;
    double allreduce_seconds = 0;
    size_t epoch_samples = 0;
    const size_t first = state.step_in_epoch;
    // Prefetch only with a core to spare: when the ranks' threads fill the node, a
    // prefetch thread competes with the step (measured by digitnet-bench-augment:
    // 1 rank x 2 threads on 2 cores, 4.6 ms/step with it against 3.8 ms inline).
    std::unique_ptr<Prefetcher<ShardBatch>> prefetch;
    if (recipe.augment.enabled() && world.local_size() * threads < node_cores)
      prefetch = std::make_unique<Prefetcher<ShardBatch>>(
          steps - first, [&, epoch = state.epoch](size_t k, ShardBatch& out) { gather(perm, epoch, first + k, out); });

    for (size_t s = first; s < steps; ++s) {
      // next batch: this rank's slice of global batch s
      const Range batch = batch_range(N, B, s);
      const Range mine = shard_range(batch.size(), world.size(), world.rank());
      if (!prefetch) gather(perm, state.epoch, s, inline_batch);
      const ShardBatch& shard = prefetch ? prefetch->next() : inline_batch;
      const float* x = shard.x.data();
      const int32_t* labels = shard.labels.data();

      // forward, loss, backward: gradient of the mean loss over the GLOBAL batch
      const DropoutDraw draw{state.seed, state.step, mine.begin};
      sums.loss += model.loss_grad(x, labels, mine.size(), 1.f / float(batch.size()), &sums.correct, &draw);
      sums.count += mine.size();

      // sum the ranks' shares -> the exact mean gradient on every rank
      const auto t = Clock::now();
      if (W > 1) world.allreduce_sum(model.grads().data(), model.grads().size());
      allreduce_seconds += seconds_since(t);
      // A stop signal on any rank stops every rank after this same step: the
      // ranks combine what they received once per step, so none is left inside
      // a collective and the checkpoint below is the state of all of them.
      const int stop_signal = W > 1 ? int(world.allreduce_max(uint64_t(stop_signal_received()))) : stop_signal_received();

      // identical Adam step on every rank, at the schedule's rate for this step
      if (recipe.clip_grad_norm > 0)  // the same gradient on every rank, so the same factor
        clip_by_global_norm(model.grads().data(), model.grads().size(), recipe.clip_grad_norm);
      AdamConfig step_cfg = state.adam;
      step_cfg.lr = lr_at(lr_plan, state.step);
      adam_step(step_cfg, adam, model.params().data(), model.grads().data(), model.params().size(), decayed);
      ++state.step;
      state.step_in_epoch = s + 1;
      epoch_samples += batch.size();

      if (opts.check_replicas && !world.all_equal(hash_params(model.params())))
        fail(ErrorKind::runtime, "replicas diverged at step " + std::to_string(state.step));
      if (stop_signal || (state.max_steps && state.step >= state.max_steps)) {
        stopped_by_signal = stop_signal;
        stop = true;
        break;
      }
    }

    prefetch.reset();  // joins the prefetch thread (it finishes a batch already started)
    const bool epoch_done = state.step_in_epoch == steps;
    if (epoch_done) {
      ++state.epoch;
      state.step_in_epoch = 0;
    }
    // Epoch metrics: train sums and the sharded test evaluation, reduced. The
    // test set is scored every eval_every epochs, at the end, and at --max-steps;
    // not after a stop signal (a preempted job should leave quickly).
    const bool last_epoch = state.epoch >= state.epochs;
    const bool evaluate = (epoch_done && (state.epoch % recipe.eval_every == 0 || last_epoch)) ||
                          (stop && !stopped_by_signal);
    EvalResult eval(state.shape.classes);
    if (evaluate) eval = model.evaluate(test, state.input, test_shard);
    double dsum[2] = {sums.loss, eval.loss_sum};
    uint64_t usum[3] = {sums.correct, sums.count, eval.correct};
    world.allreduce_sum(dsum, 2);
    world.allreduce_sum(usum, 3);
    if (!world.all_equal(hash_params(model.params())))
      fail(ErrorKind::runtime, "replicas diverged by step " + std::to_string(state.step) + " (parameters differ across ranks)");

    const double seconds = seconds_since(epoch_start);
    EpochRecord rec;
    rec.epoch = state.epoch;
    rec.step = state.step;
    rec.train_loss = usum[1] ? dsum[0] / double(usum[1]) : 0;
    rec.train_accuracy = usum[1] ? double(usum[0]) / double(usum[1]) : 0;
    rec.test_loss = evaluate ? dsum[1] / double(test.count) : std::nan("");
    rec.test_accuracy = evaluate ? double(usum[2]) / double(test.count) : std::nan("");
    rec.seconds = seconds;
    rec.samples_per_second = double(epoch_samples) / seconds;
    rec.allreduce_fraction = allreduce_seconds / seconds;
    state.history.push_back(rec);

    // The best evaluation so far is kept as best.pb; early stop counts evaluations since.
    bool improved = false;
    if (evaluate) {
      improved = rec.test_accuracy > state.best_test_accuracy;
      if (improved) {
        state.best_test_accuracy = rec.test_accuracy;
        state.best_step = state.step;
        state.evals_since_best = 0;
      } else {
        ++state.evals_since_best;
      }
    }
    const bool early_stop = recipe.early_stop && state.evals_since_best >= recipe.early_stop && !last_epoch;

    if (world.rank() == 0) {
      if (speak) {
        const double done = double(state.step - first_step);
        const double total_steps = double(state.max_steps ? std::min<uint64_t>(state.max_steps, state.epochs * steps)
                                                          : state.epochs * steps);
        const double left = done > 0 ? seconds_since(run_start) / done * (total_steps - double(state.step)) : 0;
        char test_text[16] = "     -";
        if (evaluate) std::snprintf(test_text, sizeof test_text, "%6.2f%%", 100 * rec.test_accuracy);
        std::printf("epoch %3llu/%llu  step %7llu  loss %.4f  train %6.2f%%  test %s  %5.2f s  %8.0f samples/s  allreduce %4.1f%%  left %s%s\n",
                    (unsigned long long)(epoch_done ? state.epoch : state.epoch + 1), (unsigned long long)state.epochs,
                    (unsigned long long)state.step, rec.train_loss, 100 * rec.train_accuracy, test_text,
                    seconds, rec.samples_per_second, 100 * rec.allreduce_fraction, fmt_duration(std::max(0.0, left)).c_str(),
                    epoch_done ? "" : "  (stopped inside the epoch)");
        std::fflush(stdout);
      }
      if (metrics) {  // test columns stay empty for epochs without an evaluation
        char test_cols[64] = ",";
        if (evaluate) std::snprintf(test_cols, sizeof test_cols, "%.6f,%.6f", rec.test_loss, rec.test_accuracy);
        std::fprintf(metrics, "%llu,%llu,%.6f,%.6f,%s,%.4f,%.1f,%.4f\n", (unsigned long long)rec.epoch,
                     (unsigned long long)rec.step, rec.train_loss, rec.train_accuracy, test_cols, rec.seconds,
                     rec.samples_per_second, rec.allreduce_fraction);
        std::fflush(metrics);
      }
      if (early_stop && !opts.quiet)
        std::printf("digitnet-train: early stop: no better test accuracy in %llu evaluations (best %.2f%% at step %llu)\n",
                    (unsigned long long)state.evals_since_best, 100 * state.best_test_accuracy,
                    (unsigned long long)state.best_step);
    }
    snapshot_write(model.params());
    if (improved) best_write(model.params());
    if (early_stop) stop = true;
  }
  if (metrics) std::fclose(metrics);

  if (stopped_by_signal) {
    if (world.rank() == 0) {
      std::fprintf(stderr, "digitnet-train: stopped by signal %d (%s) after step %llu%s%s; continue with --resume latest\n",
                   stopped_by_signal, strsignal(stopped_by_signal), (unsigned long long)state.step,
                   opts.checkpoint_dir.empty() ? " (no --checkpoint-dir: nothing saved)" : ", checkpoint ",
                   opts.checkpoint_dir.empty() ? "" : (opts.checkpoint_dir + "/" + checkpoint_name(state.step)).c_str());
    }
    return kExitStoppedBySignal;
  }

  if (world.rank() == 0) {
    const EpochRecord* last = nullptr;  // the last evaluated epoch
    for (const EpochRecord& r : state.history)
      if (!std::isnan(r.test_accuracy)) last = &r;
    std::printf("digitnet-train: done: step %llu, epoch %llu/%llu, test accuracy %.2f%%, %.1f s%s%s\n",
                (unsigned long long)state.step, (unsigned long long)state.epoch, (unsigned long long)state.epochs,
                last ? 100 * last->test_accuracy : 0.0, seconds_since(run_start),
                opts.checkpoint_dir.empty() ? "" : ", checkpoint ",
                opts.checkpoint_dir.empty() ? "" : (opts.checkpoint_dir + "/" + checkpoint_name(state.step)).c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace digitnet

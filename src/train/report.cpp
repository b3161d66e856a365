#include "digitnet/train/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/precision.hpp"
#include "digitnet/train/sharded_adam.hpp"

namespace digitnet {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string fmt_duration(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
  return buf;
}

}  // namespace

Reporter::Reporter(const TrainOptions& opts, bool speak, bool write) : opts_(opts), speak_(speak), write_(write) {
  if (!write_ || opts.metrics_path.empty()) return;
  const bool fresh = !std::filesystem::exists(opts.metrics_path);
  metrics_ = std::fopen(opts.metrics_path.c_str(), "a");
  if (!metrics_) fail(ErrorKind::usage, "--metrics " + opts.metrics_path + ": cannot open for writing");
  if (fresh)
    std::fprintf(metrics_, "epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,seconds,samples_per_second,allreduce_fraction,comm_total_fraction\n");
}

Reporter::~Reporter() {
  if (metrics_) std::fclose(metrics_);
}

void Reporter::start(const TrainStart& start, int ranks, int threads, const LrPlan& plan, uint64_t steps) {
  const TrainState& s = start.state;
  first_step_ = s.step;
  if (speak_)
    for (const std::string& w : start.warnings) std::fprintf(stderr, "digitnet-train: warning: %s\n", w.c_str());
  if (!speak_) return;
  const size_t W = size_t(ranks), B = s.batch_size;
  std::printf("digitnet-train: %zu rank%s x %d thread%s | model %s (%zu parameters) | %zu train / %zu test images %ux%u\n",
              W, W > 1 ? "s" : "", threads, threads > 1 ? "s" : "", s.model.shape.str().c_str(),
              s.model.shape.num_params(), start.train.count, start.test.count, s.model.rows, s.model.cols);
  std::printf("digitnet-train: global batch %zu (%zu-%zu per rank), %llu steps/epoch, %llu epochs, Adam lr %g (%s), seed %llu\n",
              B, B / W, (B + W - 1) / W, (unsigned long long)steps, (unsigned long long)s.epochs, plan.lr,
              lr_schedule_name(s.recipe.lr_schedule).c_str(), (unsigned long long)s.seed);
  if (!s.recipe.preset.empty()) std::printf("digitnet-train: preset %s\n", s.recipe.preset.c_str());
  if (s.recipe.precision == Precision::bf16) {  // one line, and it says so when bf16 is not native
    const std::string note = bf16_support_note();
    std::printf("digitnet-train: bf16 GEMMs, f32 master weights and Adam%s%s\n", note.empty() ? " (native bf16)" : "; ",
                note.c_str());
  }
  if (!start.resumed_from.empty())
    std::printf("digitnet-train: resumed from %s at step %llu (epoch %llu, step %llu of it)\n",
                start.resumed_from.c_str(), (unsigned long long)s.step, (unsigned long long)s.epoch + 1,
                (unsigned long long)s.step_in_epoch);
  if (opts_.checkpoint_dir.empty()) std::printf("digitnet-train: no --checkpoint-dir: no checkpoints will be written\n");
  std::fflush(stdout);
}

void Reporter::exchange(const ShardedAdam& optimizer, const TrainOptions& opts, int ranks) {
  if (!speak_ || ranks < 2) return;
  std::printf("digitnet-train: gradient exchange: %zu bucket%s (--bucket-mb %g) moved by %s, %s on the wire; Adam state %.2f MB per rank (sharded 1/%d)\n",
              optimizer.num_buckets(), optimizer.num_buckets() > 1 ? "s" : "", opts.bucket_mb,
              optimizer.progress() == Progress::thread ? "a thread" : "polling",
              opts.grad_wire == GradWire::bf16 ? "bf16" : "f32", double(optimizer.state_bytes()) / 1e6, ranks);
  std::fflush(stdout);
}

void Reporter::epoch(const EpochRecord& rec, bool evaluated, bool epoch_done, const TrainState& s, uint64_t steps) {
  if (speak_) {
    const double done = double(s.step - first_step_);
    const double total_steps = double(s.max_steps ? std::min<uint64_t>(s.max_steps, s.epochs * steps) : s.epochs * steps);
    const double left = done > 0 ? seconds_since(run_start_) / done * (total_steps - double(s.step)) : 0;
    char test_text[16] = "     -";
    if (evaluated) std::snprintf(test_text, sizeof test_text, "%6.2f%%", 100 * rec.test_accuracy);
    std::printf("epoch %3llu/%llu  step %7llu  loss %.4f  train %6.2f%%  test %s  %5.2f s  %8.0f samples/s  comm %4.1f%% (exposed %4.1f%%)  left %s%s\n",
                (unsigned long long)(epoch_done ? s.epoch : s.epoch + 1), (unsigned long long)s.epochs,
                (unsigned long long)s.step, rec.train_loss, 100 * rec.train_accuracy, test_text, rec.seconds,
                rec.samples_per_second, 100 * rec.comm_total_fraction, 100 * rec.allreduce_fraction,
                fmt_duration(std::max(0.0, left)).c_str(),
                epoch_done ? "" : "  (stopped inside the epoch)");
    std::fflush(stdout);
  }
  if (metrics_) {  // test columns stay empty for epochs without an evaluation
    char test_cols[64] = ",";
    if (evaluated) std::snprintf(test_cols, sizeof test_cols, "%.6f,%.6f", rec.test_loss, rec.test_accuracy);
    std::fprintf(metrics_, "%llu,%llu,%.6f,%.6f,%s,%.4f,%.1f,%.4f,%.4f\n", (unsigned long long)rec.epoch,
                 (unsigned long long)rec.step, rec.train_loss, rec.train_accuracy, test_cols, rec.seconds,
                 rec.samples_per_second, rec.allreduce_fraction, rec.comm_total_fraction);
    std::fflush(metrics_);
  }
}

void Reporter::early_stop(const TrainState& s) {
  if (write_ && !opts_.quiet)
    std::printf("digitnet-train: early stop: no better test accuracy in %llu evaluations (best %.2f%% at step %llu)\n",
                (unsigned long long)s.best.evals_since, 100 * s.best.test_accuracy, (unsigned long long)s.best.step);
}

void Reporter::cadence_checkpoint(const CheckpointCost& cost) {
  if (!write_) return;
  if (cadence_count_++ == 0 && speak_) {
    std::printf("digitnet-train: checkpoint inside the epoch: %s, %.1f MB in %.0f ms (the other ranks wait for it)\n",
                cost.path.c_str(), double(cost.bytes) / 1e6, 1e3 * cost.seconds);
    std::fflush(stdout);
  }
  cadence_seconds_ += cost.seconds;
}

void Reporter::timeline(const TimelineWritten& w) {
  if (write_ && w.dropped)
    std::fprintf(stderr, "digitnet-train: warning: timeline: a rank's buffer of %zu events was full: %llu later spans "
                 "were not recorded (trace fewer steps with --max-steps)\n",
                 kTimelineCapacity, (unsigned long long)w.dropped);
  if (!write_) return;  // a last line, as "done": also with --quiet
  std::printf("digitnet-train: timeline: %llu spans of %s in %s (%.1f MB, gathered and written in %.0f ms)\n",
              (unsigned long long)w.events, w.ranks > 1 ? "every rank" : "rank 0", opts_.timeline_path.c_str(),
              double(w.bytes) / 1e6, 1e3 * w.seconds);
  std::fflush(stdout);
}

void Reporter::timeline_failed(const std::string& why) {
  if (write_) std::fprintf(stderr, "digitnet-train: warning: no timeline: %s\n", why.c_str());
}

int Reporter::finish(const StopReason& stop, const TrainState& s) {
  const std::string& dir = opts_.checkpoint_dir;
  const std::string last = dir.empty() ? "" : dir + "/" + checkpoint_name(s.step);
  if (stop.kind == StopReason::signal) {
    if (write_)
      std::fprintf(stderr, "digitnet-train: stopped by signal %d (%s) after step %llu%s%s; continue with --resume latest\n",
                   stop.signal_number, strsignal(stop.signal_number), (unsigned long long)s.step,
                   dir.empty() ? " (no --checkpoint-dir: nothing saved)" : ", checkpoint ", last.c_str());
    return kExitStoppedBySignal;
  }
  if (write_) {
    const EpochRecord* evaluated = nullptr;  // the last evaluated epoch
    for (const EpochRecord& r : s.history)
      if (!std::isnan(r.test_accuracy)) evaluated = &r;
    std::printf("digitnet-train: done: step %llu, epoch %llu/%llu, test accuracy %.2f%%, %.1f s%s%s\n",
                (unsigned long long)s.step, (unsigned long long)s.epoch, (unsigned long long)s.epochs,
                evaluated ? 100 * evaluated->test_accuracy : 0.0, seconds_since(run_start_),
                dir.empty() ? "" : ", checkpoint ", last.c_str());
    if (cadence_count_)
      std::printf("digitnet-train: %llu checkpoints inside epochs, %.0f ms each on average\n",
                  (unsigned long long)cadence_count_, 1e3 * cadence_seconds_ / double(cadence_count_));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace digitnet

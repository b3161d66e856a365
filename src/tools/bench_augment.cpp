// digitnet-bench-augment: what on-the-fly augmentation costs, and whether a prefetch
// thread hides that cost behind the training step.
//
//  1. ns/image of Augmenter::apply on one thread (wall clock, and thread CPU time, which
//     a busy machine disturbs less): affine only, elastic (Simard's and Ciresan's
//     settings), both.
//  2. images/s of batch_gather_augmented (batches of --batch) with 1 thread and with all
//     threads, next to plain batch_gather.
//  3. ms/step of a training step (Mlp::loss_grad, 1 thread and all threads) fed by: plain
//     batch_gather inline; augmentation inline; augmentation on a Prefetcher thread.
//
// Medians over repetitions; timing is reported, never judged.
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "bench_timing.hpp"
#include "digitnet/train/augment.hpp"
#include "digitnet/core/data.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/train/prefetch.hpp"
#include "digitnet/core/rng.hpp"

namespace po = boost::program_options;
using namespace digitnet;

namespace {

using digitnet::bench::median_seconds;


// CPU seconds of the calling thread: on a shared machine, what one image really costs.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Named {
  const char* name;
  AugmentConfig cfg;
};

std::vector<Named> configs() {
  AugmentConfig affine;
  affine.rotate_deg = 15;
  affine.scale = 0.15;
  affine.shear = 0.2;
  affine.translate = 3;
  AugmentConfig simard;
  simard.elastic_alpha = 34;
  simard.elastic_sigma = 4;
  AugmentConfig ciresan;
  ciresan.elastic_alpha = 36;
  ciresan.elastic_sigma = 6;
  AugmentConfig both = affine;
  both.elastic_alpha = 36;
  both.elastic_sigma = 6;
  return {{"affine: rot 15, scale .15, shear .2, shift 3", affine},
          {"elastic alpha 34 sigma 4", simard},
          {"elastic alpha 36 sigma 6", ciresan},
          {"affine + elastic 36/6", both}};
}

struct Options {
  std::string data = "data/mnist";
  unsigned images = 2000, batch = 128, steps = 40;
  int reps = 5;
};

// Reads the command line into o; an exit status when the program is to stop there.
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  po::options_description desc("digitnet-bench-augment options");
  desc.add_options()("help,h", "this help")
      ("data", po::value(&o.data)->default_value(o.data), "MNIST (IDX) directory: the images to distort")
      ("images", po::value(&o.images)->default_value(o.images), "images per timed repetition (part 1)")
      ("batch", po::value(&o.batch)->default_value(o.batch), "batch size (parts 2 and 3)")
      ("steps", po::value(&o.steps)->default_value(o.steps), "training steps per repetition (part 3; 0 = skip)")
      ("reps", po::value(&o.reps)->default_value(o.reps), "timed repetitions per measurement");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    if (o.images == 0 || o.batch == 0 || o.reps <= 0)
      throw po::error("--images, --batch and --reps must be positive");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-bench-augment: %s\n", e.what());
    return 2;
  }
  return std::nullopt;
}

// n indices of random samples of ds.
std::vector<uint32_t> random_indices(Rng& rng, size_t n, const Dataset& ds) {
  std::vector<uint32_t> idx(n);
  for (auto& i : idx) i = uint32_t(rng.below(ds.count));
  return idx;
}

// 1. One image at a time, one thread.
void bench_apply(const Dataset& ds, const Options& o) {
  std::printf("1. Augmenter::apply, 1 thread %17s %10s %10s %10s\n", "", "ns/image", "(CPU)", "s/epoch");
  const double epoch = double(ds.count);
  std::vector<float> out(ds.features());
  for (const Named& c : configs()) {
    const Augmenter aug(c.cfg);
    double cpu = 1e300;  // the smallest of the repetitions: the least disturbed
    const double s = median_seconds(o.reps, [&] {
      const double start = thread_cpu_seconds();
      for (unsigned i = 0; i < o.images; ++i)
        aug.apply(seed_derive(1, 0, i), ds.image(i), ds.rows, ds.cols, out.data());
      cpu = std::min(cpu, thread_cpu_seconds() - start);
    });
    std::printf("   %-44s %10.0f %10.0f %10.3f\n", c.name, 1e9 * s / o.images, 1e9 * cpu / o.images,
                s / o.images * epoch);
  }
}

// What parts 2 and 3 share: the data, its normalisation, the augmentation they time
// and the thread counts they run with.
struct Setup {
  const Dataset& ds;
  InputNorm norm;
  Augmenter aug;
  std::vector<int> thread_counts;
};

// 2. Whole batches: batches of o.batch samples idx, plain and augmented.
void bench_batches(const Setup& b, const std::vector<uint32_t>& idx, const Options& o) {
  const unsigned batch = o.batch;
  std::vector<float> x(size_t(batch) * b.ds.features());
  std::vector<int32_t> y(batch);
  const size_t nb = idx.size() / batch;
  std::printf("2. batches of %-4u %42s %10s\n", batch, "", "images/s");
  for (int threads : b.thread_counts) {
    omp_set_num_threads(threads);
    const double s_plain = median_seconds(o.reps, [&] {
      for (size_t k = 0; k < nb; ++k) batch_gather(b.ds, b.norm, &idx[k * batch], batch, x.data(), y.data());
    });
    const double s_aug = median_seconds(o.reps, [&] {
      for (size_t k = 0; k < nb; ++k)
        batch_gather_augmented(b.ds, b.norm, b.aug, 1, 0, &idx[k * batch], batch, x.data(), y.data());
    });
    const char* plural = threads > 1 ? "s" : " ";
    std::printf("   %-46s %d thread%s %10s %10.0f\n", "batch_gather", threads, plural, "", double(idx.size()) / s_plain);
    std::printf("   %-46s %d thread%s %10s %10.0f\n", "batch_gather_augmented (affine + elastic 36/6)", threads, plural,
                "", double(idx.size()) / s_aug);
  }
}

// A batch made on the Prefetcher thread.
struct XBatch {
  std::vector<float> x;
  std::vector<int32_t> y;
};

// Median seconds of o.steps training steps on the batches of order, one step being
// step(x, y), fed three ways: plain batch_gather inline, augmentation inline,
// augmentation on a Prefetcher thread.
template <class Step>
std::array<double, 3> time_feeds(const Setup& b, const std::vector<uint32_t>& order, const Options& o, Step step) {
  const unsigned batch = o.batch, steps = o.steps;
  const size_t f = b.ds.features();
  std::vector<float> x(size_t(batch) * f);
  std::vector<int32_t> y(batch);
  const double t_plain = median_seconds(o.reps, [&] {
    for (unsigned k = 0; k < steps; ++k) {
      batch_gather(b.ds, b.norm, &order[size_t(k) * batch], batch, x.data(), y.data());
      step(x.data(), y.data());
    }
  });
  const double t_inline = median_seconds(o.reps, [&] {
    for (unsigned k = 0; k < steps; ++k) {
      batch_gather_augmented(b.ds, b.norm, b.aug, 1, 0, &order[size_t(k) * batch], batch, x.data(), y.data());
      step(x.data(), y.data());
    }
  });
  const double t_prefetch = median_seconds(o.reps, [&] {
    Prefetcher<XBatch> pf(steps, [&](size_t k, XBatch& out_b) {
      out_b.x.resize(size_t(batch) * f);
      out_b.y.resize(batch);
      batch_gather_augmented(b.ds, b.norm, b.aug, 1, 0, &order[k * batch], batch, out_b.x.data(), out_b.y.data());
    });
    for (unsigned k = 0; k < steps; ++k) {
      XBatch& xb = pf.next();
      step(xb.x.data(), xb.y.data());
    }
  });
  return {t_plain, t_inline, t_prefetch};
}

// 3. The training step, fed three ways, with 1 thread (a rank of `mpirun -np <cores>`)
// and with all threads (one rank on the whole machine).
void bench_training_step(const Setup& b, const std::vector<uint32_t>& order, const Options& o) {
  const unsigned batch = o.batch, steps = o.steps;
  MlpShape shape;
  shape.inputs = uint32_t(b.ds.features());
  shape.classes = std::max(2u, b.ds.num_classes);
  Mlp model(shape);
  mlp_init(shape, 1, model.params().data());
  uint64_t correct = 0;
  const float scale = 1.f / float(batch);
  const auto step = [&](const float* xs, const int32_t* ys) { model.loss_grad(xs, ys, batch, scale, &correct); };
  const double per_epoch = double(b.ds.count) / batch;
  std::printf("3. training step %s, batch %-4u %19s %10s %10s\n", shape.str().c_str(), batch, "", "ms/step", "s/epoch");
  for (int threads : b.thread_counts) {
    omp_set_num_threads(threads);
    const std::array<double, 3> times = time_feeds(b, order, o, step);
    const auto row = [&](const char* what, double t) {
      std::printf("   %d thread%s %-46s %10.3f %10.3f\n", threads, threads > 1 ? "s" : " ", what, 1e3 * t / steps,
                  t / steps * per_epoch);
    };
    row("plain batch_gather inline", times[0]);
    row("augmented inline", times[1]);
    row("augmented on a Prefetcher (+1 thread)", times[2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const std::optional<int> status = parse_options(argc, argv, o)) return *status;
  Dataset ds;
  try {
    ds = dataset_load_split(o.data, "train");
  } catch (const Error& e) {
    std::fprintf(stderr, "digitnet-bench-augment: %s (fetch it with scripts/fetch-mnist.sh)\n", e.what());
    return e.exit_code();
  }
  o.images = unsigned(std::min<size_t>(o.images, ds.count));
  const int all = omp_get_max_threads();
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("%zu images %ux%u, %d threads available, OMP_WAIT_POLICY=%s\n", ds.count, ds.rows, ds.cols, all,
              wait_policy ? wait_policy : "(unset)");

  bench_apply(ds, o);

  // 1 thread, and all of them when that is more (OMP_NUM_THREADS=1 measures one rank of
  // `mpirun -np <cores>`; run one copy per core to see the ranks compete).
  const Setup setup{ds, input_norm_fit(ds), Augmenter(configs().back().cfg),
                    all > 1 ? std::vector<int>{1, all} : std::vector<int>{1}};
  Rng rng(5);
  bench_batches(setup, random_indices(rng, size_t(o.batch) * 16, ds), o);
  omp_set_num_threads(all);

  if (o.steps == 0) return 0;
  bench_training_step(setup, random_indices(rng, size_t(o.steps) * o.batch, ds), o);
  return 0;
}

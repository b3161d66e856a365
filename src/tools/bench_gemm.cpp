// digitnet-bench-gemm: the hardware ceiling for the model's matrix products,
// next to what digitnet's own layers reach on the same shapes.
//
//  1. Ceiling: every GEMM of one training step (forward, backward-data except
//     for the first layer, backward-weights) as a oneDNN matmul whose weight
//     layout oneDNN chooses freely (format_tag::any), i.e. the best oneDNN can
//     do on this machine. Reorders are outside the timed loop.
//  2. digitnet: Mlp::loss_grad on a random batch (the whole training step of
//     one rank without allreduce and Adam), and Adam alone.
//
// --precision bf16 times both with bf16 GEMM inputs (f32 outputs), as
// digitnet-train --precision bf16 runs them; where oneDNN 2.6 has no bf16 matmul
// (no AVX-512) the ceiling is f32's and digitnet's step rounds to bf16 first.
// Prints GFLOP/s and the seconds per MNIST epoch (60,000 samples) each implies.
// Medians over repetitions; timing is reported, never judged.
#include <omp.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <dnnl.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "bench_timing.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/core/optim.hpp"
#include "digitnet/core/options.hpp"
#include "digitnet/core/precision.hpp"
#include "digitnet/core/rng.hpp"

namespace po = boost::program_options;
using dnnl::memory;

namespace {

using digitnet::bench::median_seconds;


// The same value in every element of m, f32 or bf16.
void fill_memory(memory& m, float value) {
  const size_t bytes = m.get_desc().get_size();
  if (m.get_desc().data_type() == memory::data_type::bf16)
    std::fill_n(static_cast<uint16_t*>(m.get_data_handle()), bytes / 2, digitnet::bf16_from_f32(value));
  else
    std::fill_n(static_cast<float*>(m.get_data_handle()), bytes / 4, value);
}

// Median seconds of one oneDNN matmul C (M,N) = A (M,K) · B (K,N) with free weight layout;
// A and B of type `in`, C f32.
double time_matmul(dnnl::engine& eng, dnnl::stream& strm, long M, long K, long N, memory::data_type in, int reps) {
  const auto f32 = memory::data_type::f32;
  memory::desc a_md({M, K}, in, memory::format_tag::ab), b_any({K, N}, in, memory::format_tag::any),
      c_md({M, N}, f32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), eng);
  memory a(a_md, eng), b(pd.weights_desc(), eng), c(c_md, eng);
  fill_memory(a, 0.5f);
  fill_memory(b, 0.25f);
  dnnl::matmul mm(pd);
  return median_seconds(reps, [&] {
    mm.execute(strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    strm.wait();
  });
}

constexpr double kEpoch = 60000;  // MNIST's training samples

// One training step's GEMMs at their ceiling: their sum.
struct StepGemms {
  double flops = 0, seconds = 0;
};

// 1. Ceiling, GEMM by GEMM, for layer widths w and batch B.
StepGemms bench_ceiling(dnnl::engine& eng, dnnl::stream& strm, const std::vector<uint32_t>& w, long B,
                        memory::data_type in, int reps) {
  StepGemms step;
  std::printf("  %-26s %10s %10s\n", "GEMM (M x K x N)", "ms", "GFLOP/s");
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    const long IN = w[l], OUT = w[l + 1];
    struct G { const char* what; long M, K, N; };
    std::vector<G> gemms{{"fwd", B, IN, OUT}, {"bwd_w", OUT, B, IN}};
    if (l > 0) gemms.push_back({"bwd_data", B, OUT, IN});  // the input needs no gradient
    for (const G& g : gemms) {
      const double s = time_matmul(eng, strm, g.M, g.K, g.N, in, reps);
      const double flops = 2.0 * g.M * g.K * g.N;
      step.flops += flops;
      step.seconds += s;
      std::printf("  L%zu %-8s %5ld x %4ld x %4ld %10.3f %10.1f\n", l, g.what, g.M, g.K, g.N, 1e3 * s, flops / s / 1e9);
    }
  }
  const double steps = kEpoch / B;
  std::printf("ceiling (oneDNN %s matmul, free layout): %.1f GFLOP/s -> %.3f s/epoch of GEMM, %.1f GFLOP/epoch\n",
              in == memory::data_type::bf16 ? "bf16" : "f32", step.flops / step.seconds / 1e9, step.seconds * steps,
              step.flops * steps / 1e9);
  return step;
}

// 2. digitnet's own training step on the same shapes, against the ceiling.
void bench_digitnet(const digitnet::MlpShape& shape, long B, digitnet::Precision precision, int reps,
                    const StepGemms& ceiling) {
  digitnet::Mlp model(shape);
  model.set_precision(precision);
  digitnet::mlp_init(shape, 1, model.params().data());
  std::vector<float> x(size_t(B) * shape.inputs);
  std::vector<int32_t> labels(B);
  digitnet::Rng rng(7);
  for (float& v : x) v = float(rng.normal());
  for (int32_t& y : labels) y = int32_t(rng.below(shape.classes));
  uint64_t correct = 0;
  const double t_step = median_seconds(reps, [&] { model.loss_grad(x.data(), labels.data(), B, 1.f / B, &correct); });
  digitnet::AdamState adam;
  adam.reset(shape.num_params());
  const double t_adam = median_seconds(reps, [&] {
    digitnet::adam_step({}, adam, model.params().data(), model.grads().data(), shape.num_params());
  });
  // What each of 2 ranks does now that Adam is sharded: half the parameters, one thread.
  const size_t half = shape.num_params() / 2;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double t_half = median_seconds(reps, [&] {
    digitnet::adam_update_slice({}, 1, model.params().data(), model.grads().data(), adam.m.data(), adam.v.data(), 0, half);
  });
  omp_set_num_threads(threads);
  const double steps = kEpoch / B;
  std::printf("digitnet forward+backward (%s): %.3f ms/step, %.1f GFLOP/s (%.0f%% of ceiling) -> %.3f s/epoch\n",
              digitnet::precision_name(precision).c_str(), 1e3 * t_step, ceiling.flops / t_step / 1e9, 100 * ceiling.seconds / t_step, t_step * steps);
  std::printf("digitnet Adam step (%zu parameters, %s kernel, %d threads): %.3f ms/step -> %.3f s/epoch, %.1f GB/s\n",
              shape.num_params(), digitnet::adam_kernel_isa(), threads, 1e3 * t_adam, t_adam * steps,
              28.0 * double(shape.num_params()) / t_adam / 1e9);
  std::printf("digitnet Adam, one rank's 1/2 shard on 1 thread (2 ranks): %.3f ms/step -> %.3f s/epoch\n", 1e3 * t_half,
              t_half * steps);
  std::printf("digitnet step total: %.3f s/epoch, %.0f samples/s (compute only, 1 rank)\n", (t_step + t_adam) * steps,
              kEpoch / ((t_step + t_adam) * steps));
}

}  // namespace

int main(int argc, char** argv) {
  std::string hidden = "512,512", precision_text = "f32";
  unsigned inputs = 784, classes = 10, batch = 128;
  digitnet::Precision precision = digitnet::Precision::f32;
  int threads = 0, reps = 200;
  po::options_description desc("digitnet-bench-gemm options");
  desc.add_options()("help,h", "this help")
      ("inputs", po::value(&inputs)->default_value(inputs), "input features")
      ("hidden", po::value(&hidden)->default_value(hidden), "hidden layer widths")
      ("classes", po::value(&classes)->default_value(classes), "output classes")
      ("batch", po::value(&batch)->default_value(batch), "batch size (per rank)")
      ("threads", po::value(&threads)->default_value(threads), "threads (0: all cores)")
      ("reps", po::value(&reps)->default_value(reps), "timed repetitions per measurement")
      ("precision", po::value(&precision_text)->default_value(precision_text), "f32 or bf16: the GEMM inputs (outputs are f32)");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::cout << desc;
      return 0;
    }
    if (batch == 0 || inputs == 0 || classes == 0 || reps <= 0) throw po::error("sizes and --reps must be positive");
    precision = digitnet::precision_parse(precision_text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digitnet-bench-gemm: %s\n", e.what());
    return 2;
  }
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();

  digitnet::MlpShape shape;
  shape.inputs = inputs;
  shape.hidden = digitnet::parse_widths("hidden", hidden);
  shape.classes = classes;
  const long B = batch;

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::printf("model %s, batch %u, %d thread%s, oneDNN %d.%d\n", shape.str().c_str(), batch, threads,
              threads > 1 ? "s" : "", dnnl_version()->major, dnnl_version()->minor);

  // oneDNN 2.6 has bf16 matmuls only with AVX-512; without, the f32 ceiling is the one that counts.
  const bool bf16_matmul = precision == digitnet::Precision::bf16 && digitnet::bf16_support() != digitnet::Bf16Support::rounded;
  if (precision == digitnet::Precision::bf16 && !digitnet::bf16_support_note().empty())
    std::printf("bf16: %s\n", digitnet::bf16_support_note().c_str());
  const StepGemms ceiling =
      bench_ceiling(eng, strm, shape.widths(), B, bf16_matmul ? memory::data_type::bf16 : memory::data_type::f32, reps);
  bench_digitnet(shape, B, precision, reps, ceiling);
  return 0;
}

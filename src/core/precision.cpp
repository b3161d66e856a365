#include "digitnet/core/precision.hpp"

#include <dnnl.hpp>
#include <omp.h>

#include <cstring>
#include <utility>

#include "digitnet/core/error.hpp"

namespace digitnet {

Precision precision_parse(const std::string& name) {
  if (name == "f32") return Precision::f32;
  if (name == "bf16") return Precision::bf16;
  fail(ErrorKind::usage, "--precision " + name + ": expected f32 or bf16");
}

std::string precision_name(Precision precision) { return precision == Precision::bf16 ? "bf16" : "f32"; }

namespace {

// oneDNN's ISA values are bit sets: an ISA includes another when it has all its bits.
bool isa_includes(dnnl::cpu_isa isa, dnnl::cpu_isa part) { return (int(isa) & int(part)) == int(part); }

std::string isa_name(dnnl::cpu_isa isa) {
  using I = dnnl::cpu_isa;
  static const std::pair<I, const char*> kNames[] = {
      {I::avx512_core_amx, "avx512_core_amx"}, {I::avx512_core_bf16, "avx512_core_bf16"},
      {I::avx512_core_vnni, "avx512_core_vnni"}, {I::avx512_core, "avx512_core"}, {I::avx2_vnni, "avx2_vnni"},
      {I::avx2, "avx2"}, {I::avx, "avx"}, {I::sse41, "sse41"}};
  for (const auto& named : kNames)
    if (isa_includes(isa, named.first)) return named.second;
  return "without SIMD";
}

}  // namespace

Bf16Support bf16_support() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  if (isa_includes(isa, dnnl::cpu_isa::avx512_core_bf16)) return Bf16Support::native;  // AMX includes it
  if (isa_includes(isa, dnnl::cpu_isa::avx512_core)) return Bf16Support::emulated;
  return Bf16Support::rounded;
}

std::string bf16_support_note() {
  const std::string isa = isa_name(dnnl::get_effective_cpu_isa());
  switch (bf16_support()) {
    case Bf16Support::native: return "";
    case Bf16Support::emulated:
      return "this CPU has no native bf16 (oneDNN ISA " + isa +
             ", no AVX512-BF16 or AMX): oneDNN emulates the bf16 GEMMs with AVX-512, expect no speed-up";
    default:
      return "this CPU has no native bf16 (oneDNN ISA " + isa +
             ", no AVX-512): the GEMM inputs are rounded to bf16 and multiplied in f32, bf16 numbers at f32 speed";
  }
}

uint16_t bf16_from_f32(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // to nearest, ties to even
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  return uint16_t(nan ? (u >> 16) | 0x40u : rounded);  // a NaN stays a (quiet) NaN
}

float f32_from_bf16(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

namespace {

// The rounding loops once more for AVX-512 and AVX2, chosen at load time: the build
// targets generic x86-64 (SSE2), and AVX2 rounds 2.5x faster.
__attribute__((target_clones("avx512f", "avx2", "default"))) void round_span(const float* src, size_t n,
                                                                            uint16_t* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_from_f32(src[i]);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void round_span(const float* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_from_bf16(bf16_from_f32(src[i]));
}

// Threads take contiguous spans; small arrays stay on one thread.
template <class Out>
void round_parallel(const float* src, size_t n, Out* dst) {
  const int threads = n < 32768 ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
  {
    const size_t t = size_t(omp_get_thread_num()), T = size_t(omp_get_num_threads());
    const size_t begin = n * t / T, end = n * (t + 1) / T;
    round_span(src + begin, end - begin, dst + begin);
  }
}

}  // namespace

void bf16_round(const float* src, size_t n, uint16_t* dst) { round_parallel(src, n, dst); }
void bf16_round(const float* src, size_t n, float* dst) { round_parallel(src, n, dst); }

}  // namespace digitnet

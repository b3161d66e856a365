// GEMM precision: the names of --precision, f32 -> bf16 rounding, and what this
// CPU does with bf16, checked against cpuid.
#include <cpuid.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "digitnet/core/error.hpp"
#include "digitnet/core/precision.hpp"
#include "digitnet/core/rng.hpp"

using namespace digitnet;

namespace {

float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace

TEST(Precision, NamesRoundTripAndOthersAreRefused) {
  for (Precision p : {Precision::f32, Precision::bf16}) EXPECT_EQ(precision_parse(precision_name(p)), p);
  for (const char* bad : {"fp16", "BF16", "", "f64"}) {
    try {
      precision_parse(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::usage);
      EXPECT_NE(std::string(e.what()).find("expected f32 or bf16"), std::string::npos) << e.what();
    }
  }
}

TEST(Bf16Rounding, RoundsToNearestWithTiesToEven) {
  EXPECT_EQ(bf16_from_f32(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_f32(-2.5f), 0xc020);
  EXPECT_EQ(bf16_from_f32(0.0f), 0x0000);
  EXPECT_EQ(bf16_from_f32(-0.0f), 0x8000);
  // bf16 keeps 7 fraction bits: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7.
  EXPECT_EQ(bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);                 // tie: to the even 1.0
  EXPECT_EQ(bf16_from_f32(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82);       // tie: up to the even neighbour
  EXPECT_EQ(bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);      // just above the tie: up
  EXPECT_EQ(bf16_from_f32(1.0f + 0x1p-8f - 0x1p-20f), 0x3f80);      // just below: down
  EXPECT_EQ(bf16_from_f32(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_from_f32(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_from_f32(std::numeric_limits<float>::max()), 0x7f80);  // beyond bf16's largest: to infinity
  EXPECT_TRUE(std::isnan(f32_from_bf16(bf16_from_f32(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(f32_from_bf16(bf16_from_f32(from_bits(0x7f800001)))));  // a NaN whose top bits are inf's
  EXPECT_EQ(f32_from_bf16(0x3f80), 1.0f);
}

TEST(Bf16Rounding, ArraysAreRoundedWithinHalfAUnitAndBf16ValuesStay) {
  const size_t n = 10007;  // odd: the vector loops' tails
  std::vector<float> x(n), as_float(n), again(n);
  std::vector<uint16_t> bits(n);
  Rng rng(3);
  for (float& v : x) v = float(rng.normal() * std::exp(4 * rng.normal()));
  bf16_round(x.data(), n, bits.data());
  bf16_round(x.data(), n, as_float.data());
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(bits[i], bf16_from_f32(x[i])) << i;
    ASSERT_EQ(as_float[i], f32_from_bf16(bits[i])) << i;
    // within half a unit in the last place of bf16's 8 significant bits
    ASSERT_LE(std::fabs(as_float[i] - x[i]), std::ldexp(1.0, std::ilogb(x[i]) - 8)) << x[i];
  }
  bf16_round(as_float.data(), n, again.data());
  EXPECT_EQ(std::memcmp(again.data(), as_float.data(), n * sizeof(float)), 0) << "bf16 values must round to themselves";
  size_t changed = 0;
  for (size_t i = 0; i < n; ++i) changed += as_float[i] != x[i];
  EXPECT_GT(changed, n * 9 / 10);  // random floats do need rounding: the test can fail
}

// What oneDNN reports against the CPU's own feature bits (unless the ISA is
// capped with ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA, which oneDNN honours).
TEST(Bf16Support, FollowsTheCpuFeatureBits) {
  if (std::getenv("ONEDNN_MAX_CPU_ISA") || std::getenv("DNNL_MAX_CPU_ISA")) GTEST_SKIP() << "ISA capped by the environment";
  unsigned a, b, c, d;
  ASSERT_TRUE(__get_cpuid_count(7, 0, &a, &b, &c, &d));
  const bool avx512_core = (b >> 16 & 1) && (b >> 17 & 1) && (b >> 30 & 1) && (b >> 31 & 1);  // F, DQ, BW, VL
  const bool amx_bf16 = d >> 22 & 1;
  __get_cpuid_count(7, 1, &a, &b, &c, &d);
  const bool avx512_bf16 = a >> 5 & 1;
  const Bf16Support s = bf16_support();
  const Bf16Support expected = !avx512_core ? Bf16Support::rounded
                               : avx512_bf16 || amx_bf16 ? Bf16Support::native
                                                         : Bf16Support::emulated;
  EXPECT_EQ(s, expected);
  const std::string note = bf16_support_note();
  EXPECT_EQ(note.empty(), s == Bf16Support::native) << note;
  EXPECT_EQ(note.find('\n'), std::string::npos);
  std::printf("bf16 on this CPU: %s\n", note.empty() ? "native" : note.c_str());
}

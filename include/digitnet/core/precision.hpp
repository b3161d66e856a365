// The precision of the training GEMMs (--precision f32|bf16), what this CPU
// does with bf16, and the rounding of f32 to bf16.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace digitnet {

// The data type of the dense layers' GEMM inputs in training. GEMM outputs,
// bias, ReLU, loss, master weights, Adam and checkpoints are f32 either way.
enum class Precision { f32, bf16 };
Precision precision_parse(const std::string& name);  // "f32" or "bf16"; throws Error(usage)
std::string precision_name(Precision precision);

// How bf16 GEMMs run on this CPU with oneDNN 2.6.
enum class Bf16Support {
  native,    // AVX512-BF16 or AMX: oneDNN's bf16 matmul on bf16 dot-product instructions
  emulated,  // AVX-512 without them: oneDNN's bf16 matmul converts to f32 in registers
  rounded,   // no AVX-512: oneDNN 2.6 has no bf16 matmul at all, so the inputs are
             // rounded to bf16 and multiplied by the f32 matmul (bf16 numbers, f32 speed)
};
// From oneDNN's effective ISA, so ONEDNN_MAX_CPU_ISA=AVX2 selects `rounded` anywhere.
Bf16Support bf16_support();
// One line for the user when bf16 is not native ("" when it is).
std::string bf16_support_note();

// f32 -> bf16 rounding to nearest even, as oneDNN and the hardware do; NaN stays NaN.
uint16_t bf16_from_f32(float x);
float f32_from_bf16(uint16_t bits);
// The n values of src rounded to bf16: as bf16 bits, or as f32 values that bf16 holds exactly.
void bf16_round(const float* src, size_t n, uint16_t* dst);
void bf16_round(const float* src, size_t n, float* dst);

}  // namespace digitnet

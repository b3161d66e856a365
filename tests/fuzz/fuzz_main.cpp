// libFuzzer's entry point for one target; DIGITNET_FUZZ_ENTRY names its function
// (tests/fuzz/CMakeLists.txt). digitnet::Error is the expected refusal of a bad
// input; every other way out is a finding.
#include <cstddef>
#include <cstdint>

#include "digitnet/core/error.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    digitnet::fuzz::DIGITNET_FUZZ_ENTRY(data, size);
  } catch (const digitnet::Error&) {
  }
  return 0;
}

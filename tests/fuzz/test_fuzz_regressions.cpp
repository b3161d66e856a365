// Replays tests/fuzz/regressions/<target>/* through the fuzz targets' entry
// functions in the normal build: inputs the fuzzers once crashed on (kept after
// the fix) and the smallest seeds of each target, so the harness code runs in CI.
// Every file must be read or refused with a digitnet::Error; a crash, a failed
// check() or any other exception fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "digitnet/core/error.hpp"
#include "fuzz.hpp"

namespace fs = std::filesystem;

namespace {

using Entry = void (*)(const uint8_t*, size_t);

void replay(const std::string& target, Entry entry) {
  const fs::path dir = fs::path(DIGITNET_FUZZ_REGRESSIONS) / target;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir << " holds no inputs";
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::string outcome = "read";
    try {
      entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const digitnet::Error& e) {
      outcome = std::string("refused: ") + e.what();
      EXPECT_EQ(outcome.find('\n'), std::string::npos) << file << ": the error is not one line";
    } catch (const std::exception& e) {
      ADD_FAILURE() << file << ": " << e.what() << " (not a digitnet::Error)";
      continue;
    }
    std::cout << "  " << file.filename().string() << ": " << outcome << "\n";
  }
}

}  // namespace

TEST(FuzzRegressions, Idx) { replay("idx", digitnet::fuzz::idx); }
TEST(FuzzRegressions, Checkpoint) { replay("checkpoint", digitnet::fuzz::checkpoint); }
TEST(FuzzRegressions, Image) { replay("image", digitnet::fuzz::image); }

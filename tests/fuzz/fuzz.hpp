// Fuzz targets (scripts/fuzz.sh): each entry function takes arbitrary bytes and
// either returns or throws digitnet::Error, the expected outcome for a bad file.
// Anything else (a crash, a sanitizer report, another exception, a failed
// check() of what a reader returned, a leak, a timeout, running out of memory)
// is a finding. libFuzzer calls them through fuzz_main.cpp; the normal build
// replays tests/fuzz/regressions/<target>/* through them (test_fuzz_regressions).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace digitnet::fuzz {

// IDX reader. Input: a flags byte, the labels file's length (2 bytes, little-
// endian), the labels file, then the images file (the rest). Flags: bit 0 gzips
// the images file, bit 1 the labels file (a raw input may be gzip already);
// bit 2 loads the pair as a data set (dataset_load), otherwise the images file
// alone is read (idx_read).
void idx(const uint8_t* data, size_t size);
enum IdxFlags : uint8_t { kGzipImages = 1, kGzipLabels = 2, kDataset = 4 };
std::string idx_input(uint8_t flags, const std::string& labels, const std::string& images);

// Checkpoint decoder (checkpoint_file_decode + model_from_proto, as the scorer
// reads; snapshot_decode, as a resume reads). Input: a mode byte, then the bytes.
// Mode bit 0 clear: the bytes are a checkpoint file; set: they are the Checkpoint
// payload, wrapped here in a file with its CRC and tag, so that mutations reach
// the payload's decoding instead of failing the checksum.
void checkpoint(const uint8_t* data, size_t size);
enum CheckpointMode : uint8_t { kFile = 0, kPayload = 1 };
std::string checkpoint_input(CheckpointMode mode, const std::string& bytes);

// Image decoding (image_read) and, for images of at most kMaxPreprocessPixels,
// preprocess_digit and preprocess_number. Input: the image file.
void image(const uint8_t* data, size_t size);
constexpr int64_t kMaxPreprocessPixels = 1 << 18;  // 512 x 512

// ---- shared by the targets ----

// A path holding exactly these bytes: an in-memory file (memfd), one per slot,
// reused from one input to the next.
std::string scratch_file(int slot, const std::string& bytes);
// The bytes as one gzip member.
std::string gzip(const std::string& bytes);
// Aborts with a message unless cond: a reader returned something inconsistent.
void check(bool cond, const char* what);

}  // namespace digitnet::fuzz

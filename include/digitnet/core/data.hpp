// IDX data sets (MNIST and any other IDX set): reading, validation, batches.
// Every file is untrusted: magic, rank, dimensions and lengths are checked
// before anything is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

// One IDX file: unsigned-byte payload with its dimensions.
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

// Reads an IDX file of unsigned bytes (type 0x08), raw or gzip-compressed.
IdxArray idx_read(const std::string& path);

// Labelled images: count images of rows x cols u8 pixels, row-major.
struct Dataset {
  uint32_t rows = 0, cols = 0;
  size_t count = 0;
  uint32_t num_classes = 0;  // max label + 1
  std::vector<uint8_t> images;  // (count, rows * cols)
  std::vector<uint8_t> labels;  // (count)
  size_t features() const { return size_t(rows) * cols; }
  const uint8_t* image(size_t i) const { return images.data() + i * features(); }
};

// Loads an image file and its label file and checks that they belong together.
Dataset dataset_load(const std::string& images_path, const std::string& labels_path);

// Keeps the first `count` samples (no-op if the set is not larger). Classes stay as they were.
void dataset_truncate(Dataset& ds, size_t count);

// Loads split "train" or "t10k" from DIR (files may end in .gz).
Dataset dataset_load_split(const std::string& dir, const std::string& split);

// Input normalisation of the network: x = (pixel / 255 - mean) / std.
struct InputNorm {
  float mean = 0.f, std = 1.f;
};
InputNorm input_norm_fit(const Dataset& ds);  // mean and std of all training pixels

// Writes the normalised images idx[0..n) into dst (n, features).
void batch_gather(const Dataset& ds, const InputNorm& norm, const uint32_t* idx, size_t n,
                  float* dst, int32_t* labels);

}  // namespace digitnet

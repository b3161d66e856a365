// Fuzz target: IDX files, raw and gzip, alone (idx_read) and as a data set (dataset_load).
#include <algorithm>
#include <cmath>
#include <vector>

#include "digitnet/core/data.hpp"
#include "fuzz.hpp"

namespace digitnet::fuzz {

std::string idx_input(uint8_t flags, const std::string& labels, const std::string& images) {
  const size_t n = std::min<size_t>(labels.size(), 0xffff);
  return std::string{char(flags), char(n & 0xff), char(n >> 8)} + labels.substr(0, n) + images;
}

void idx(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const uint8_t flags = data[0];
  const size_t labels_size = std::min<size_t>(size_t(data[1]) | size_t(data[2]) << 8, size - 3);
  const char* p = reinterpret_cast<const char*>(data) + 3;
  std::string labels(p, labels_size), images(p + labels_size, size - 3 - labels_size);
  if (flags & kGzipImages) images = gzip(images);
  if (flags & kGzipLabels) labels = gzip(labels);
  const std::string images_path = scratch_file(0, images);

  if (!(flags & kDataset)) {
    const IdxArray a = idx_read(images_path);
    size_t total = 1;
    for (uint32_t d : a.dims) total *= d;
    check(!a.dims.empty() && a.dims.size() <= 3 && a.data.size() == total, "idx_read: dims and data disagree");
    return;
  }
  const Dataset ds = dataset_load(images_path, scratch_file(1, labels));
  check(ds.count > 0 && ds.images.size() == ds.count * ds.features() && ds.labels.size() == ds.count,
        "dataset_load: count, shape and data disagree");
  check(*std::max_element(ds.labels.begin(), ds.labels.end()) < ds.num_classes, "dataset_load: a label >= num_classes");
  // What training does next with it: the normalisation, a batch of the first and last sample.
  const InputNorm norm = input_norm_fit(ds);
  check(std::isfinite(norm.mean) && std::isfinite(norm.std) && norm.std > 0, "input_norm_fit: not finite");
  const uint32_t idx[2] = {0, uint32_t(ds.count - 1)};
  std::vector<float> batch(2 * ds.features());
  int32_t labels_out[2];
  batch_gather(ds, norm, idx, 2, batch.data(), labels_out);
}

}  // namespace digitnet::fuzz

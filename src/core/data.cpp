#include "digitnet/core/data.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <sys/stat.h>

#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// Largest data set we accept: guards allocations against absurd headers.
constexpr uint64_t kMaxBytes = uint64_t(8) << 30;  // 8 GiB
constexpr uint32_t kMaxDim = 1u << 16;             // per image dimension

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  fail(ErrorKind::data, path + ": " + what);
}

// gzread reads gzip and, transparently, uncompressed files.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

void read_exact(GzFile& g, const std::string& path, void* dst, size_t n, const char* what) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const unsigned chunk = unsigned(std::min<size_t>(n, 1u << 30));
    const int got = gzread(g.f, p, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(g.f, &errnum);
      bad(path, std::string("corrupt compressed data (") + msg + ")");
    }
    if (got == 0) bad(path, std::string("truncated: file ends inside the ") + what);
    p += got;
    n -= size_t(got);
  }
}

uint32_t be32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

IdxArray idx_read(const std::string& path) {
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  if (!g.f) bad(path, "cannot open (missing file? run scripts/fetch-mnist.sh DIR)");
  gzbuffer(g.f, 1 << 20);

  unsigned char magic[4];
  read_exact(g, path, magic, 4, "header");
  if (magic[0] != 0 || magic[1] != 0)
    bad(path, "not an IDX file (bad magic; expected 00 00 08 0N)");
  if (magic[2] != 0x08) bad(path, "unsupported IDX element type (only unsigned bytes, 0x08)");
  const unsigned ndims = magic[3];
  if (ndims < 1 || ndims > 3) bad(path, "unsupported IDX rank " + std::to_string(ndims) + " (expected 1 to 3)");

  IdxArray arr;
  uint64_t total = 1;
  for (unsigned d = 0; d < ndims; ++d) {
    unsigned char b[4];
    read_exact(g, path, b, 4, "header");
    const uint32_t dim = be32(b);
    if (dim == 0) bad(path, "dimension " + std::to_string(d) + " is zero");
    if (d > 0 && dim > kMaxDim) bad(path, "absurd dimension " + std::to_string(dim));
    total *= dim;
    if (total > kMaxBytes) bad(path, "absurd size (more than 8 GiB of data)");
    arr.dims.push_back(dim);
  }
  // Grow the buffer as data arrives: a 9-byte file claiming 4 GiB must fail at
  // its end, not after allocating what its header says.
  constexpr size_t kChunk = size_t(64) << 20;
  for (size_t done = 0; done < total;) {
    const size_t n = std::min<size_t>(kChunk, total - done);
    arr.data.resize(done + n);
    read_exact(g, path, arr.data.data() + done, n, "data");
    done += n;
  }
  unsigned char extra;
  if (gzread(g.f, &extra, 1) != 0) bad(path, "trailing bytes after the data (header and size disagree)");
  // gzread reports a gzip stream cut inside its trailer (CRC, length) only here.
  int zerr = Z_OK;
  gzerror(g.f, &zerr);
  if (zerr != Z_OK) bad(path, "truncated or corrupt gzip stream (it ends before its checksum)");
  return arr;
}

Dataset dataset_load(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = idx_read(images_path);
  IdxArray labels = idx_read(labels_path);
  if (images.dims.size() != 3) bad(images_path, "expected 3 dimensions (count, rows, cols), got " + std::to_string(images.dims.size()));
  if (labels.dims.size() != 1) bad(labels_path, "expected 1 dimension (count), got " + std::to_string(labels.dims.size()));
  if (images.dims[0] != labels.dims[0])
    bad(labels_path, "holds " + std::to_string(labels.dims[0]) + " labels but " + images_path + " holds " +
                         std::to_string(images.dims[0]) + " images");
  Dataset ds;
  ds.count = images.dims[0];
  ds.rows = images.dims[1];
  ds.cols = images.dims[2];
  ds.images = std::move(images.data);
  ds.labels = std::move(labels.data);
  ds.num_classes = uint32_t(*std::max_element(ds.labels.begin(), ds.labels.end())) + 1;
  return ds;
}

void dataset_truncate(Dataset& ds, size_t count) {
  if (count >= ds.count) return;
  ds.count = count;
  ds.images.resize(count * ds.features());
  ds.labels.resize(count);
}

Dataset dataset_load_split(const std::string& dir, const std::string& split) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    fail(ErrorKind::data, "--data " + dir + ": no such directory (run scripts/fetch-mnist.sh " + dir + ")");
  auto find = [&](const std::string& base) {
    const std::string raw = dir + "/" + base;
    if (file_exists(raw)) return raw;
    if (file_exists(raw + ".gz")) return raw + ".gz";
    fail(ErrorKind::data, raw + ": missing (also tried .gz; run scripts/fetch-mnist.sh " + dir + ")");
  };
  return dataset_load(find(split + "-images-idx3-ubyte"), find(split + "-labels-idx1-ubyte"));
}

InputNorm input_norm_fit(const Dataset& ds) {
  // Exact integer histogram: the result does not depend on summation order.
  uint64_t hist[256] = {};
  for (uint8_t p : ds.images) ++hist[p];
  double n = 0, sum = 0, sq = 0;
  for (int v = 0; v < 256; ++v) {
    const double x = v / 255.0;
    n += double(hist[v]);
    sum += double(hist[v]) * x;
    sq += double(hist[v]) * x * x;
  }
  InputNorm norm;
  if (n == 0) return norm;
  const double mean = sum / n;
  const double var = std::max(0.0, sq / n - mean * mean);
  norm.mean = float(mean);
  norm.std = var > 1e-12 ? float(std::sqrt(var)) : 1.f;
  return norm;
}

void batch_gather(const Dataset& ds, const InputNorm& norm, const uint32_t* idx, size_t n, float* dst,
                  int32_t* labels) {
  const size_t f = ds.features();
  // x = (p/255 - mean)/std = p * a + b; a table makes it one load per pixel.
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = (float(v) / 255.f - norm.mean) / norm.std;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* src = ds.image(idx[i]);
    float* d = dst + i * f;
    for (size_t k = 0; k < f; ++k) d[k] = table[src[k]];
    if (labels) labels[i] = ds.labels[idx[i]];
  }
}

}  // namespace digitnet

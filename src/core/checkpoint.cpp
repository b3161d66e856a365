#include "digitnet/core/checkpoint.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/error.hpp"
#include "digitnet/core/file_io.hpp"

namespace digitnet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "digitnet-checkpoint-v1";
constexpr uint64_t kMaxFileBytes = uint64_t(2) << 30;  // protobuf's own limit
constexpr uint32_t kMaxWidth = 1u << 20;
constexpr uint64_t kMaxInputs = uint64_t(1) << 24;  // pixels of one image: rows * cols must fit uint32 with room

[[noreturn]] void bad(const std::string& name, const std::string& what) { fail(ErrorKind::checkpoint, name + ": " + what); }

uint32_t crc_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // crc32 takes uInt lengths; feed large payloads in pieces.
  for (size_t off = 0; off < bytes.size(); off += (1u << 30)) {
    const size_t n = std::min<size_t>(bytes.size() - off, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + off), uInt(n));
  }
  return uint32_t(crc);
}

bool all_finite(const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

}  // namespace

std::string checkpoint_name(uint64_t step) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "ckpt-%08llu.pb", (unsigned long long)step);
  return buf;
}

std::string checkpoint_file_encode(const Checkpoint& ck) {
  CheckpointFile file;
  if (!ck.SerializeToString(file.mutable_checkpoint()))
    fail(ErrorKind::runtime, "checkpoint too large to serialize (protobuf limit is 2 GiB)");
  file.set_crc32(crc_of(file.checkpoint()));
  file.set_format(kFormat);
  return file.SerializeAsString();
}

Checkpoint checkpoint_file_decode(const std::string& bytes, const std::string& name) {
  CheckpointFile file;
  if (!file.ParseFromString(bytes)) bad(name, "not a digitnet checkpoint (unreadable protobuf; truncated or foreign file?)");
  if (file.format() != kFormat) bad(name, "not a digitnet checkpoint (format tag missing; truncated or foreign file?)");
  if (crc_of(file.checkpoint()) != file.crc32()) bad(name, "corrupted (CRC32 of the payload does not match)");
  Checkpoint ck;
  if (!ck.ParseFromString(file.checkpoint())) bad(name, "corrupted (payload is not a Checkpoint message)");
  return ck;
}

Checkpoint checkpoint_file_read(const std::string& path) {
  return checkpoint_file_decode(file_read_all(path, kMaxFileBytes, ErrorKind::checkpoint), path);
}

void checkpoint_file_write(const std::string& path, const Checkpoint& ck) {
  const std::string bytes = checkpoint_file_encode(ck);
  file_write_atomic(path, bytes.data(), bytes.size());
}

void model_to_proto(const ModelSpec& spec, const std::vector<float>& params, Checkpoint* ck) {
  if (params.size() != spec.shape.num_params())
    fail(ErrorKind::runtime, "model_to_proto: " + std::to_string(params.size()) + " parameters do not match model " +
                                 spec.shape.str());
  auto* in = ck->mutable_input();
  in->set_rows(spec.rows);
  in->set_cols(spec.cols);
  in->set_mean(spec.input.mean);
  in->set_std(spec.input.std);
  const auto layout = mlp_layout(spec.shape);
  for (size_t l = 0; l < layout.size(); ++l) {
    const LayerSlice& sl = layout[l];
    auto* layer = ck->add_layers();
    layer->set_in_features(uint32_t(sl.in));
    layer->set_out_features(uint32_t(sl.out));
    layer->set_activation(l + 1 < layout.size() ? RELU : SOFTMAX);
    const float* w = params.data() + sl.weight_offset;
    const float* b = params.data() + sl.bias_offset;
    layer->mutable_weight()->Add(w, w + sl.in * sl.out);
    layer->mutable_bias()->Add(b, b + sl.out);
  }
  ck->set_num_classes(spec.shape.classes);
  for (uint32_t h : spec.shape.hidden) ck->mutable_training()->add_hidden(h);
}

namespace {

// Fields 1-3: the input and a chain of ReLU layers ending in softmax.
ModelSpec spec_from_proto(const Checkpoint& ck, const std::string& name) {
  ModelSpec spec;
  spec.rows = ck.input().rows();
  spec.cols = ck.input().cols();
  spec.input.mean = ck.input().mean();
  spec.input.std = ck.input().std();
  // rows * cols is checked too: 65536 x 65536 would wrap the input count to 0 in 32 bits.
  if (spec.rows == 0 || spec.cols == 0 || uint64_t(spec.rows) * spec.cols > kMaxInputs)
    bad(name, "invalid input shape " + std::to_string(spec.rows) + "x" + std::to_string(spec.cols));
  if (!std::isfinite(spec.input.mean) || !std::isfinite(spec.input.std) || spec.input.std <= 0.f)
    bad(name, "invalid input normalisation (mean/std)");
  if (ck.layers_size() < 1) bad(name, "has no layers");
  spec.shape.inputs = spec.rows * spec.cols;
  spec.shape.classes = ck.num_classes();
  spec.shape.hidden.clear();
  uint32_t expect_in = spec.shape.inputs;
  for (int l = 0; l < ck.layers_size(); ++l) {
    const DenseLayer& layer = ck.layers(l);
    const bool last = (l + 1 == ck.layers_size());
    const std::string where = "layer " + std::to_string(l) + " ";
    if (layer.in_features() != expect_in)
      bad(name, where + "has " + std::to_string(layer.in_features()) + " inputs, expected " + std::to_string(expect_in));
    if (layer.out_features() == 0 || layer.out_features() > kMaxWidth) bad(name, where + "has an invalid width");
    if (uint64_t(layer.weight_size()) != uint64_t(layer.in_features()) * layer.out_features() ||
        uint32_t(layer.bias_size()) != layer.out_features())
      bad(name, where + "weight/bias sizes do not match its shape");
    if (layer.activation() != (last ? SOFTMAX : RELU))
      bad(name, where + "has an unsupported activation (digitnet MLPs are ReLU layers then softmax)");
    if (!last) spec.shape.hidden.push_back(layer.out_features());
    expect_in = layer.out_features();
  }
  if (expect_in != spec.shape.classes || spec.shape.classes < 2) bad(name, "num_classes does not match the last layer");
  // Field 9 repeats the hidden widths (absent in checkpoints from other writers).
  const auto& hidden = ck.training().hidden();
  if (!hidden.empty() && std::vector<uint32_t>(hidden.begin(), hidden.end()) != spec.shape.hidden)
    bad(name, "training.hidden does not match the layers");
  return spec;
}

}  // namespace

ModelSpec model_from_proto(const Checkpoint& ck, const std::string& name, std::vector<float>* params) {
  ModelSpec spec = spec_from_proto(ck, name);
  const auto layout = mlp_layout(spec.shape);
  params->resize(spec.shape.num_params());
  for (size_t l = 0; l < layout.size(); ++l) {
    const DenseLayer& layer = ck.layers(int(l));
    std::copy(layer.weight().begin(), layer.weight().end(), params->begin() + long(layout[l].weight_offset));
    std::copy(layer.bias().begin(), layer.bias().end(), params->begin() + long(layout[l].bias_offset));
  }
  if (!all_finite(params->data(), params->size())) bad(name, "holds non-finite parameters (NaN or Inf)");
  return spec;
}

ModelCheckpoint model_checkpoint_load(const std::string& path) {
  const Checkpoint ck = checkpoint_file_read(path);
  ModelCheckpoint m;
  m.spec = model_from_proto(ck, path, &m.params);
  m.step = ck.training().step();
  m.epoch = ck.training().epoch();
  for (auto it = ck.history().rbegin(); it != ck.history().rend(); ++it)
    if (!std::isnan(it->test_accuracy())) {
      m.test_accuracy = it->test_accuracy();
      m.test_accuracy_step = it->step();
      break;
    }
  return m;
}

void model_check_data(const ModelSpec& spec, const Dataset& ds, const std::string& name) {
  if (spec.rows != ds.rows || spec.cols != ds.cols)
    bad(name, "model expects " + std::to_string(spec.rows) + "x" + std::to_string(spec.cols) + " images, the data set has " +
                  std::to_string(ds.rows) + "x" + std::to_string(ds.cols));
  if (ds.num_classes > spec.shape.classes)
    bad(name, "model knows " + std::to_string(spec.shape.classes) + " classes, the data set's labels go up to " +
                  std::to_string(ds.num_classes - 1));
}

std::vector<std::string> checkpoint_list(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // ckpt-<digits>.pb
    if (name.size() < 9 || name.rfind("ckpt-", 0) != 0 || name.substr(name.size() - 3) != ".pb") continue;
    const std::string digits = name.substr(5, name.size() - 8);
    if (digits.empty() || digits.size() > 19 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    found.emplace_back(std::stoull(digits), it->path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

void checkpoint_prune(const std::string& dir, size_t keep) {
  if (keep == 0) return;
  const auto all = checkpoint_list(dir);
  for (size_t i = 0; i + keep < all.size(); ++i) {
    std::error_code ec;
    fs::remove(all[i], ec);
  }
}

}  // namespace digitnet

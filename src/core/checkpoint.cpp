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

template <class Field>
void put(Field* field, const float* src, size_t n) {
  field->Resize(int(n), 0.f);
  std::copy(src, src + n, field->mutable_data());
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

std::string checkpoint_encode(const Snapshot& s) {
  if (s.params.size() != s.shape.num_params() ||
      (!s.adam_state.m.empty() && (s.adam_state.m.size() != s.params.size() || s.adam_state.v.size() != s.params.size())))
    fail(ErrorKind::runtime, "checkpoint_encode: parameter or optimizer state size does not match model " + s.shape.str());
  Checkpoint ck;
  auto* in = ck.mutable_input();
  in->set_rows(s.rows);
  in->set_cols(s.cols);
  in->set_mean(s.input.mean);
  in->set_std(s.input.std);
  const auto layout = mlp_layout(s.shape);
  for (size_t l = 0; l < layout.size(); ++l) {
    const LayerSlice& sl = layout[l];
    auto* layer = ck.add_layers();
    layer->set_in_features(uint32_t(sl.in));
    layer->set_out_features(uint32_t(sl.out));
    layer->set_activation(l + 1 < layout.size() ? RELU : SOFTMAX);
    put(layer->mutable_weight(), s.params.data() + sl.weight_offset, sl.in * sl.out);
    put(layer->mutable_bias(), s.params.data() + sl.bias_offset, sl.out);
  }
  ck.set_num_classes(s.shape.classes);

  auto* t = ck.mutable_training();
  t->set_step(s.step);
  t->set_epoch(s.epoch);
  t->set_step_in_epoch(s.step_in_epoch);
  t->set_batch_size(s.batch_size);
  t->set_seed(s.seed);
  t->set_epochs(s.epochs);
  t->set_world_size(s.world_size);
  t->set_train_count(s.train_count);
  t->set_max_steps(s.max_steps);
  const Recipe& r = s.recipe;
  t->set_lr_schedule(lr_schedule_name(r.lr_schedule));
  t->set_warmup_epochs(r.warmup_epochs);
  t->set_lr_step_epochs(r.lr_step_epochs);
  t->set_lr_gamma(r.lr_gamma);
  t->set_lr_ref_batch(r.lr_ref_batch);
  t->set_clip_grad_norm(r.clip_grad_norm);
  for (float d : r.reg.dropout) t->add_dropout(d);
  t->set_label_smoothing(r.reg.label_smoothing);
  auto* aug = t->mutable_augment();
  aug->set_rotate_deg(r.augment.rotate_deg);
  aug->set_scale(r.augment.scale);
  aug->set_shear(r.augment.shear);
  aug->set_translate(r.augment.translate);
  aug->set_elastic_alpha(r.augment.elastic_alpha);
  aug->set_elastic_sigma(r.augment.elastic_sigma);
  t->set_eval_every(r.eval_every);
  t->set_early_stop(r.early_stop);
  t->set_preset(r.preset);
  t->set_best_test_accuracy(s.best_test_accuracy);
  t->set_best_step(s.best_step);
  t->set_evals_since_best(s.evals_since_best);
  for (uint32_t h : s.shape.hidden) t->add_hidden(h);

  auto* a = ck.mutable_adam();
  a->set_lr(s.adam.lr);
  a->set_beta1(s.adam.beta1);
  a->set_beta2(s.adam.beta2);
  a->set_eps(s.adam.eps);
  a->set_weight_decay(s.adam.weight_decay);
  a->set_step(s.adam_state.step);
  put(a->mutable_m(), s.adam_state.m.data(), s.adam_state.m.size());
  put(a->mutable_v(), s.adam_state.v.data(), s.adam_state.v.size());

  for (const EpochRecord& r : s.history) {
    auto* h = ck.add_history();
    h->set_epoch(r.epoch);
    h->set_step(r.step);
    h->set_train_loss(r.train_loss);
    h->set_train_accuracy(r.train_accuracy);
    h->set_test_loss(r.test_loss);
    h->set_test_accuracy(r.test_accuracy);
    h->set_seconds(r.seconds);
    h->set_samples_per_second(r.samples_per_second);
    h->set_allreduce_fraction(r.allreduce_fraction);
  }
  auto* run = ck.mutable_run();
  run->set_program("digitnet-train");
  run->set_version(DIGITNET_VERSION);
  run->set_hostname(s.hostname);
  run->set_slurm_job_id(s.slurm_job_id);
  run->set_unix_time(s.unix_time);
  run->set_threads(s.threads);

  CheckpointFile file;
  if (!ck.SerializeToString(file.mutable_checkpoint()))
    fail(ErrorKind::runtime, "checkpoint too large to serialize (protobuf limit is 2 GiB)");
  file.set_crc32(crc_of(file.checkpoint()));
  file.set_format(kFormat);
  return file.SerializeAsString();
}

Snapshot checkpoint_decode(const std::string& bytes, const std::string& name) {
  CheckpointFile file;
  if (!file.ParseFromString(bytes)) bad(name, "not a digitnet checkpoint (unreadable protobuf; truncated or foreign file?)");
  if (file.format() != kFormat) bad(name, "not a digitnet checkpoint (format tag missing; truncated or foreign file?)");
  if (crc_of(file.checkpoint()) != file.crc32()) bad(name, "corrupted (CRC32 of the payload does not match)");
  Checkpoint ck;
  if (!ck.ParseFromString(file.checkpoint())) bad(name, "corrupted (payload is not a Checkpoint message)");

  Snapshot s;
  s.rows = ck.input().rows();
  s.cols = ck.input().cols();
  s.input.mean = ck.input().mean();
  s.input.std = ck.input().std();
  if (s.rows == 0 || s.cols == 0 || s.rows > 65536 || s.cols > 65536) bad(name, "invalid input shape");
  if (!std::isfinite(s.input.mean) || !std::isfinite(s.input.std) || s.input.std <= 0.f)
    bad(name, "invalid input normalisation (mean/std)");
  if (ck.layers_size() < 1) bad(name, "has no layers");
  s.shape.inputs = s.rows * s.cols;
  s.shape.classes = ck.num_classes();
  s.shape.hidden.clear();
  uint32_t expect_in = s.shape.inputs;
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
    if (!last) s.shape.hidden.push_back(layer.out_features());
    expect_in = layer.out_features();
  }
  if (expect_in != s.shape.classes || s.shape.classes < 2) bad(name, "num_classes does not match the last layer");

  const auto layout = mlp_layout(s.shape);
  s.params.resize(s.shape.num_params());
  for (size_t l = 0; l < layout.size(); ++l) {
    const DenseLayer& layer = ck.layers(int(l));
    std::copy(layer.weight().begin(), layer.weight().end(), s.params.begin() + layout[l].weight_offset);
    std::copy(layer.bias().begin(), layer.bias().end(), s.params.begin() + layout[l].bias_offset);
  }
  if (!all_finite(s.params.data(), s.params.size())) bad(name, "holds non-finite parameters (NaN or Inf)");

  const auto& t = ck.training();
  s.step = t.step();
  s.epoch = t.epoch();
  s.step_in_epoch = t.step_in_epoch();
  s.batch_size = t.batch_size();
  s.seed = t.seed();
  s.epochs = t.epochs();
  s.world_size = t.world_size();
  s.train_count = t.train_count();
  s.max_steps = t.max_steps();
  Recipe& r = s.recipe;
  if (t.lr_schedule() == "cosine") r.lr_schedule = LrSchedule::cosine;
  else if (t.lr_schedule() == "step") r.lr_schedule = LrSchedule::step;
  else if (t.lr_schedule().empty() || t.lr_schedule() == "constant") r.lr_schedule = LrSchedule::constant;
  else bad(name, "unknown learning-rate schedule '" + t.lr_schedule() + "'");
  r.warmup_epochs = t.warmup_epochs();
  r.lr_step_epochs = t.lr_step_epochs();
  r.lr_gamma = t.lr_gamma();
  r.lr_ref_batch = t.lr_ref_batch();
  r.clip_grad_norm = t.clip_grad_norm();
  r.reg.dropout.assign(t.dropout().begin(), t.dropout().end());
  r.reg.label_smoothing = t.label_smoothing();
  r.augment.rotate_deg = t.augment().rotate_deg();
  r.augment.scale = t.augment().scale();
  r.augment.shear = t.augment().shear();
  r.augment.translate = t.augment().translate();
  r.augment.elastic_alpha = t.augment().elastic_alpha();
  r.augment.elastic_sigma = t.augment().elastic_sigma();
  r.eval_every = std::max<uint64_t>(1, t.eval_every());
  r.early_stop = t.early_stop();
  r.preset = t.preset();
  s.best_test_accuracy = t.best_test_accuracy();
  s.best_step = t.best_step();
  s.evals_since_best = t.evals_since_best();
  for (float d : r.reg.dropout)
    if (!(d >= 0 && d < 1)) bad(name, "invalid dropout rate");
  if (!(r.reg.label_smoothing >= 0 && r.reg.label_smoothing < 1)) bad(name, "invalid label smoothing");

  const auto& a = ck.adam();
  s.adam = AdamConfig{a.lr(), a.beta1(), a.beta2(), a.eps(), a.weight_decay()};
  s.adam_state.step = a.step();
  if (a.m_size() != 0 || a.v_size() != 0) {
    if (size_t(a.m_size()) != s.params.size() || size_t(a.v_size()) != s.params.size())
      bad(name, "Adam moments do not match the number of parameters");
    s.adam_state.m.assign(a.m().begin(), a.m().end());
    s.adam_state.v.assign(a.v().begin(), a.v().end());
  }
  for (const auto& h : ck.history())
    s.history.push_back({h.epoch(), h.step(), h.train_loss(), h.train_accuracy(), h.test_loss(), h.test_accuracy(),
                         h.seconds(), h.samples_per_second(), h.allreduce_fraction()});
  s.hostname = ck.run().hostname();
  s.slurm_job_id = ck.run().slurm_job_id();
  s.unix_time = ck.run().unix_time();
  s.threads = ck.run().threads();
  return s;
}

Snapshot checkpoint_load(const std::string& path) {
  return checkpoint_decode(file_read_all(path, kMaxFileBytes, ErrorKind::checkpoint), path);
}

void checkpoint_save(const std::string& path, const Snapshot& snap) {
  const std::string bytes = checkpoint_encode(snap);
  file_write_atomic(path, bytes.data(), bytes.size());
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

std::string checkpoint_latest(const std::string& dir) {
  const auto all = checkpoint_list(dir);
  return all.empty() ? std::string() : all.back();
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

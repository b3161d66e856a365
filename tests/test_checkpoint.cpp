// Checkpoints (DESIGN.md invariants 4 and 5): exact round trips, atomic saves,
// and refusal of every truncated, corrupted, foreign or inconsistent file.
// Some files are built byte by byte with a tiny protobuf wire writer below: that
// is what "any protobuf client" would produce, independent of our generated code.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/train/snapshot.hpp"
#include "mnist_fixture.hpp"
#include "temp_dir.hpp"

using namespace digitnet;
namespace fs = std::filesystem;

namespace {

// ---- protobuf wire format, just enough to write and read checkpoint files ----
void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s += char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  s += char(v);
}
void put_tag(std::string& s, int field, int wire) { put_varint(s, uint64_t(field) << 3 | uint64_t(wire)); }
void put_uint(std::string& s, int field, uint64_t v) {
  put_tag(s, field, 0);
  put_varint(s, v);
}
void put_bytes(std::string& s, int field, const std::string& b) {
  put_tag(s, field, 2);
  put_varint(s, b.size());
  s += b;
}
void put_fixed32(std::string& s, int field, uint32_t v) {
  put_tag(s, field, 5);
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}
void put_float(std::string& s, int field, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  put_fixed32(s, field, u);
}
void put_packed_floats(std::string& s, int field, const std::vector<float>& v) {
  std::string b;
  for (float f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) b += char((u >> (8 * i)) & 0xff);
  }
  put_bytes(s, field, b);
}

uint32_t zlib_crc(const std::string& b) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data()), uInt(b.size())));
}

// Top-level fields of a message: field number -> raw value (bytes for wire type 2,
// little-endian value for fixed32, varint value otherwise). Last occurrence wins.
struct WireField {
  int wire = -1;
  uint64_t num = 0;
  std::string bytes;
};
bool wire_parse(const std::string& s, std::map<int, WireField>* out) {
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i >= s.size()) return false;
      const uint8_t b = uint8_t(s[i++]);
      *v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (i < s.size()) {
    uint64_t key;
    if (!varint(&key)) return false;
    WireField f;
    f.wire = int(key & 7);
    if (f.wire == 0) {
      if (!varint(&f.num)) return false;
    } else if (f.wire == 2) {
      uint64_t n;
      if (!varint(&n) || n > s.size() - i) return false;
      f.bytes = s.substr(i, n);
      i += n;
    } else if (f.wire == 5) {
      if (s.size() - i < 4) return false;
      for (int k = 0; k < 4; ++k) f.num |= uint64_t(uint8_t(s[i + k])) << (8 * k);
      i += 4;
    } else {
      return false;
    }
    (*out)[int(key >> 3)] = f;
  }
  return true;
}

// A CheckpointFile around payload bytes, with the right CRC and format tag.
std::string wrap_file(const std::string& payload) {
  std::string f;
  put_bytes(f, 1, payload);
  put_fixed32(f, 2, zlib_crc(payload));
  put_bytes(f, 3, "digitnet-checkpoint-v1");
  return f;
}

// The serialized Checkpoint inside a CheckpointFile.
std::string checkpoint_payload(const std::string& file) {
  std::map<int, WireField> fields;
  EXPECT_TRUE(wire_parse(file, &fields));
  return fields[1].bytes;
}

struct LayerSpec {
  uint32_t in, out, activation;  // 1 = RELU, 2 = SOFTMAX
  std::vector<float> weight, bias;
};
// Checkpoint fields 1-3 only (the fixed contract of DESIGN.md).
std::string contract_payload(uint32_t rows, uint32_t cols, float mean, float sd, const std::vector<LayerSpec>& layers,
                             uint32_t classes) {
  std::string input;
  put_uint(input, 1, rows);
  put_uint(input, 2, cols);
  put_float(input, 3, mean);
  put_float(input, 4, sd);
  std::string ck;
  put_bytes(ck, 1, input);
  for (const LayerSpec& l : layers) {
    std::string m;
    put_uint(m, 1, l.in);
    put_uint(m, 2, l.out);
    put_uint(m, 3, l.activation);
    put_packed_floats(m, 4, l.weight);
    put_packed_floats(m, 5, l.bias);
    put_bytes(ck, 2, m);
  }
  put_uint(ck, 3, classes);
  return ck;
}

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (float(i) - float(n) / 3);
  return v;
}

// A 2x3-input, one hidden layer of 4, 3-class network with every field set to a
// distinct value, so a field lost or swapped in a round trip shows.
Snapshot make_snapshot() {
  Snapshot snap;
  TrainState& s = snap.state;
  s.model.shape.inputs = 6;
  s.model.shape.hidden = {4};
  s.model.shape.classes = 3;
  s.model.rows = 2;
  s.model.cols = 3;
  s.model.input = {0.1307f, 0.3081f};
  std::vector<float>& p = snap.params;
  p.resize(s.model.shape.num_params());
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::sin(float(i) + 0.5f) * 0.37f;
  // Values a lossy encoding would damage: -0, a denormal, extremes of float.
  p[0] = -0.0f;
  p[1] = std::numeric_limits<float>::denorm_min();
  p[2] = std::numeric_limits<float>::max();
  p[3] = -std::numeric_limits<float>::min();
  p.back() = 1.0f / 3.0f;
  s.step = 1234;
  s.epoch = 3;
  s.step_in_epoch = 17;
  s.batch_size = 128;
  s.seed = 0xdeadbeefcafef00dULL;
  s.epochs = 12;
  s.max_steps = 5000;
  s.train_count = 60000;
  Recipe& r = s.recipe;  // every field away from its default
  r.adam = AdamConfig{2e-3, 0.85, 0.995, 1e-7, 0.05};
  r.lr_schedule = LrSchedule::step;
  r.warmup_epochs = 1.5;
  r.lr_step_epochs = 7;
  r.lr_gamma = 0.3;
  r.lr_ref_batch = 256;
  r.clip_grad_norm = 2.5;
  r.reg.dropout = {0.25f};
  r.reg.label_smoothing = 0.1f;
  r.augment.rotate_deg = 12;
  r.augment.scale = 0.1;
  r.augment.shear = 0.15;
  r.augment.translate = 2.5;
  r.augment.elastic_alpha = 34;
  r.augment.elastic_sigma = 6;
  r.eval_every = 5;
  r.early_stop = 3;
  r.preset = "best";
  r.precision = Precision::bf16;
  s.best = {0.9912, 999, 2};
  s.adam.step = 1234;
  s.adam.m = ramp(p.size(), 1e-3f);
  s.adam.v = ramp(p.size(), 1e-6f);
  for (auto& x : s.adam.v) x = std::fabs(x);
  s.history.push_back({1, 469, 0.31, 0.91, 0.15, 0.955, 2.5, 24000.5, 0.125});
  s.history.push_back({2, 938, 0.12, 0.965, 0.09, 0.972, 2.25, 26666.75, 0.0625});
  snap.run.world_size = 3;
  snap.run.hostname = "node-07.cluster";
  snap.run.slurm_job_id = "424242";
  snap.run.unix_time = 1700000000;
  snap.run.threads = 2;
  return snap;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Every setting of the recipe table, then the settings outside it.
void expect_recipe_eq(const Recipe& ra, const Recipe& rb) {
  for (const RecipeSetting& setting : recipe_settings())
    EXPECT_EQ(recipe_get(setting, ra), recipe_get(setting, rb)) << setting.option;
  EXPECT_EQ(ra.lr_schedule, rb.lr_schedule);
  EXPECT_EQ(ra.reg.dropout, rb.reg.dropout);
  EXPECT_EQ(ra.preset, rb.preset);
  EXPECT_EQ(ra.precision, rb.precision);
}

void expect_snapshot_eq(const Snapshot& sa, const Snapshot& sb) {
  const TrainState &a = sa.state, &b = sb.state;
  EXPECT_EQ(a.model.shape, b.model.shape) << a.model.shape.str() << " vs " << b.model.shape.str();
  EXPECT_EQ(a.model.rows, b.model.rows);
  EXPECT_EQ(a.model.cols, b.model.cols);
  EXPECT_EQ(a.model.input.mean, b.model.input.mean);
  EXPECT_EQ(a.model.input.std, b.model.input.std);
  EXPECT_TRUE(bitwise_equal(sa.params, sb.params)) << "params differ";
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.step_in_epoch, b.step_in_epoch);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.max_steps, b.max_steps);
  EXPECT_EQ(a.train_count, b.train_count);
  expect_recipe_eq(a.recipe, b.recipe);
  EXPECT_EQ(a.best.test_accuracy, b.best.test_accuracy);
  EXPECT_EQ(a.best.step, b.best.step);
  EXPECT_EQ(a.best.evals_since, b.best.evals_since);
  EXPECT_EQ(a.adam.step, b.adam.step);
  EXPECT_TRUE(bitwise_equal(a.adam.m, b.adam.m)) << "Adam m differs";
  EXPECT_TRUE(bitwise_equal(a.adam.v, b.adam.v)) << "Adam v differs";
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    const EpochRecord &x = a.history[i], &y = b.history[i];
    EXPECT_EQ(x.epoch, y.epoch) << "history " << i;
    EXPECT_EQ(x.step, y.step) << "history " << i;
    EXPECT_EQ(x.train_loss, y.train_loss) << "history " << i;
    EXPECT_EQ(x.train_accuracy, y.train_accuracy) << "history " << i;
    EXPECT_EQ(x.test_loss, y.test_loss) << "history " << i;
    EXPECT_EQ(x.test_accuracy, y.test_accuracy) << "history " << i;
    EXPECT_EQ(x.seconds, y.seconds) << "history " << i;
    EXPECT_EQ(x.samples_per_second, y.samples_per_second) << "history " << i;
    EXPECT_EQ(x.allreduce_fraction, y.allreduce_fraction) << "history " << i;
  }
  EXPECT_EQ(sa.run.world_size, sb.run.world_size);
  EXPECT_EQ(sa.run.hostname, sb.run.hostname);
  EXPECT_EQ(sa.run.slurm_job_id, sb.run.slurm_job_id);
  EXPECT_EQ(sa.run.unix_time, sb.run.unix_time);
  EXPECT_EQ(sa.run.threads, sb.run.threads);
}

// f must throw Error(checkpoint) whose message is one line and names `name`.
// Returns the message ("" if it did not).
std::string expect_refused(const std::function<void()>& f, const std::string& name, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << what << ": accepted, expected Error(checkpoint)";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::checkpoint) << what << ": " << msg;
    EXPECT_NE(msg.find(name), std::string::npos) << what << ": message does not name " << name << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << what << ": message is not one line: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-digitnet exception: " << e.what();
  }
  return "";
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::set<std::string> dir_entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

using CheckpointDir = digitnet::test::TempDirTest;

}  // namespace

// ---------------------------------------------------------------- round trips

TEST(CheckpointCodec, EncodeDecodeRoundTripKeepsEveryField) {
  const Snapshot s = make_snapshot();
  ASSERT_EQ(s.params.size(), 6u * 4 + 4 + 4 * 3 + 3);
  // First show that a default snapshot differs, so the comparison can fail at all.
  const Snapshot fresh;
  EXPECT_FALSE(bitwise_equal(fresh.params, s.params));
  const Snapshot back = snapshot_decode(snapshot_encode(s), "mem");
  expect_snapshot_eq(back, s);
}

TEST(CheckpointCodec, EncodingIsDeterministic) {
  // The same state gives the same bytes: rank-independent and diffable.
  EXPECT_EQ(snapshot_encode(make_snapshot()), snapshot_encode(make_snapshot()));
}

TEST(CheckpointCodec, FileIsCheckpointBytesPlusZlibCrc32) {
  // The public contract: field 1 holds the payload, field 2 (fixed32) its zlib crc32.
  const std::string bytes = snapshot_encode(make_snapshot());
  std::map<int, WireField> file;
  ASSERT_TRUE(wire_parse(bytes, &file));
  ASSERT_EQ(file.count(1), 1u);
  ASSERT_EQ(file.count(2), 1u);
  EXPECT_EQ(file[1].wire, 2);
  EXPECT_EQ(file[2].wire, 5);
  EXPECT_EQ(file[2].num, zlib_crc(file[1].bytes));
  // Payload field 3 is num_classes.
  std::map<int, WireField> ck;
  ASSERT_TRUE(wire_parse(file[1].bytes, &ck));
  EXPECT_EQ(ck[3].num, 3u);
}

TEST(CheckpointCodec, ContractFieldsAloneDescribeTheNetwork) {
  // What another language would write from DESIGN.md: input, layers, num_classes.
  const std::vector<float> w0 = ramp(6 * 4, 0.1f), b0 = ramp(4, 0.2f), w1 = ramp(4 * 3, -0.3f), b1 = ramp(3, 0.4f);
  const std::string payload =
      contract_payload(2, 3, 0.5f, 0.25f, {{6, 4, 1, w0, b0}, {4, 3, 2, w1, b1}}, 3);
  const Snapshot s = snapshot_decode(wrap_file(payload), "foreign-writer");
  const ModelSpec& m = s.state.model;
  EXPECT_EQ(m.rows, 2u);
  EXPECT_EQ(m.cols, 3u);
  EXPECT_EQ(m.input.mean, 0.5f);
  EXPECT_EQ(m.input.std, 0.25f);
  EXPECT_EQ(m.shape, (MlpShape{6, {4}, 3}));
  // Flat order is layer by layer, weight (row-major) then bias.
  std::vector<float> flat = w0;
  flat.insert(flat.end(), b0.begin(), b0.end());
  flat.insert(flat.end(), w1.begin(), w1.end());
  flat.insert(flat.end(), b1.begin(), b1.end());
  EXPECT_TRUE(bitwise_equal(s.params, flat));
  EXPECT_TRUE(s.state.adam.m.empty());  // no optimizer state: fine for scoring
}

// Every row of the recipe table reaches its proto field and comes back: each
// setting in turn gets a value away from its default (first shown to differ).
TEST(RecipeTable, EverySettingRoundTripsThroughItsProtoField) {
  for (const RecipeSetting& setting : recipe_settings()) {
    Snapshot s = make_snapshot();
    const double before = recipe_get(setting, s.state.recipe);
    double value = 0;  // the first candidate the setting accepts and does not hold already
    for (double candidate : {7.0, 11.0, 0.375, 0.625})
      if (setting.bounds.contains(candidate) && candidate != before) {
        value = candidate;
        break;
      }
    ASSERT_TRUE(setting.bounds.contains(value)) << setting.option;
    std::visit([&](auto ref) { ref(s.state.recipe) = decltype(ref(s.state.recipe))(value); }, setting.ref);
    ASSERT_NE(recipe_get(setting, s.state.recipe), before) << setting.option << ": the value did not change";
    const Snapshot back = snapshot_decode(snapshot_encode(s), "mem");
    EXPECT_EQ(recipe_get(setting, back.state.recipe), recipe_get(setting, s.state.recipe)) << setting.option;
  }
}

// Zero is a value where zero is valid (beta1 0 is plain RMSProp-like Adam), and
// "absent, take the default" only where it is not (a zero learning rate).
TEST(RecipeTable, ZeroIsAValueWhereValidElseAbsent) {
  Snapshot s = make_snapshot();
  s.state.recipe.adam.beta1 = 0;
  s.state.recipe.warmup_epochs = 0;
  EXPECT_EQ(snapshot_decode(snapshot_encode(s), "mem").state.recipe.adam.beta1, 0.0);
  EXPECT_EQ(snapshot_decode(snapshot_encode(s), "mem").state.recipe.warmup_epochs, 0.0);
  s.state.recipe.adam.lr = 0;
  s.state.recipe.eval_every = 0;
  const Recipe back = snapshot_decode(snapshot_encode(s), "mem").state.recipe;
  EXPECT_EQ(back.adam.lr, Recipe{}.adam.lr);
  EXPECT_EQ(back.eval_every, 1u);
}

TEST(RecipeTable, OutOfBoundsValuesInAFileAreRefused) {
  Snapshot s = make_snapshot();
  s.state.recipe.reg.label_smoothing = 1.5f;
  expect_refused([&] { snapshot_decode(snapshot_encode(s), "smooth.pb"); }, "smooth.pb", "label smoothing 1.5");
  s = make_snapshot();
  s.state.recipe.adam.beta2 = 1.0;
  expect_refused([&] { snapshot_decode(snapshot_encode(s), "beta.pb"); }, "beta.pb", "beta2 1");
}

TEST(RecipeTable, ResumeOverrideTakesOnlyTheGivenSettings) {
  Recipe recorded = make_snapshot().state.recipe, now;
  now.adam.lr = 0.5;
  now.augment.rotate_deg = 3;
  now.lr_schedule = LrSchedule::constant;
  const Recipe before = recorded;
  recipe_override(recorded, now, {"lr", "lr-schedule"});
  EXPECT_EQ(recorded.adam.lr, 0.5);
  EXPECT_EQ(recorded.lr_schedule, LrSchedule::constant);
  EXPECT_EQ(recorded.augment.rotate_deg, before.augment.rotate_deg);  // not given: as recorded
  EXPECT_EQ(recorded.adam.beta2, before.adam.beta2);
  EXPECT_EQ(recorded.precision, Precision::bf16);  // not given: the checkpoint's precision continues
  recipe_override(recorded, now, {"precision"});
  EXPECT_EQ(recorded.precision, Precision::f32);
}

TEST(RecipeTable, PrecisionIsRecordedAndUnsetMeansF32) {
  Checkpoint ck = checkpoint_file_decode(snapshot_encode(make_snapshot()), "mem");
  EXPECT_EQ(ck.training().precision(), GEMM_PRECISION_BF16);  // field 27
  ck.mutable_training()->clear_precision();  // as written before field 27
  EXPECT_EQ(snapshot_decode(checkpoint_file_encode(ck), "old.pb").state.recipe.precision, Precision::f32);
  ck.mutable_training()->set_precision(GemmPrecision(7));  // a value from a newer writer
  const std::string msg =
      expect_refused([&] { snapshot_decode(checkpoint_file_encode(ck), "new.pb"); }, "new.pb", "precision 7");
  EXPECT_NE(msg.find("unknown GEMM precision 7"), std::string::npos) << msg;
}

// A checkpoint written by the version before each part owned its protobuf
// (tests/fixtures/README.md) still loads, whole, and scores as it did then.
TEST(CheckpointFixture, VersionOneLoadsAndScoresTheSame) {
  const std::string path = std::string(DIGITNET_FIXTURES_DIR) + "/ckpt-v1-784-8-10.pb";
  const Snapshot s = snapshot_load(path);
  const TrainState& t = s.state;
  EXPECT_EQ(t.model.shape.str(), "784-8-10");
  EXPECT_EQ(t.step, 240u);
  EXPECT_EQ(t.epoch, 4u);
  EXPECT_EQ(t.train_count, 6000u);
  EXPECT_EQ(t.seed, 12u);
  EXPECT_EQ(t.recipe.lr_schedule, LrSchedule::step);  // from field 11: the file has no field 26
  EXPECT_EQ(t.recipe.precision, Precision::f32);       // the file has no field 27
  EXPECT_EQ(t.recipe.adam.lr, 0.02);
  EXPECT_EQ(t.recipe.lr_gamma, 0.5);
  EXPECT_EQ(t.recipe.reg.dropout, std::vector<float>{0.02f});
  EXPECT_EQ(t.recipe.augment.rotate_deg, 5.0);
  EXPECT_EQ(t.adam.step, 240u);
  EXPECT_EQ(t.adam.m.size(), s.params.size());
  EXPECT_EQ(t.history.size(), 4u);

  const ModelCheckpoint m = model_checkpoint_load(path);
  EXPECT_TRUE(bitwise_equal(m.params, s.params));
  const Dataset& test = test::mnist("t10k");
  ASSERT_EQ(test.count, 10000u);
  model_check_data(m.spec, test, path);
  Mlp model(m.spec.shape);
  model.params() = m.params;
  const EvalResult r = model.evaluate(test, m.spec.input, Range{0, test.count});
  EXPECT_EQ(r.correct, 6745u);  // digitnet-score of commit 779a66f
  EXPECT_NEAR(r.loss(), 0.9906867299033157, 1e-6);
}

TEST_F(CheckpointDir, SaveThenLoadIsExactAndLeavesNoTemporaryFile) {
  const Snapshot s = make_snapshot();
  const std::string file = path(checkpoint_name(s.state.step));
  snapshot_save(file, s);
  expect_snapshot_eq(snapshot_load(file), s);
  // The file holds exactly the encoded bytes, and nothing else is in the directory.
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes, snapshot_encode(s));
  EXPECT_EQ(dir_entries(dir_), (std::set<std::string>{checkpoint_name(s.state.step)}));
}

TEST_F(CheckpointDir, SaveReplacesAnExistingFile) {
  Snapshot a = make_snapshot(), b = make_snapshot();
  b.state.step = a.state.step + 1;
  for (auto& p : b.params) p = -p;
  const std::string file = path("ckpt.pb");
  write_file(file, std::string(100000, 'x'));  // longer than a checkpoint: no leftover tail
  snapshot_save(file, a);
  snapshot_save(file, b);
  expect_snapshot_eq(snapshot_load(file), b);
  EXPECT_EQ(dir_entries(dir_), (std::set<std::string>{"ckpt.pb"}));
}

TEST_F(CheckpointDir, SaveIntoMissingDirectoryIsARuntimeError) {
  const std::string file = path("no-such-dir/ckpt-00000001.pb");
  try {
    snapshot_save(file, make_snapshot());
    ADD_FAILURE() << "save into a missing directory succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::runtime) << e.what();
  }
  EXPECT_TRUE(dir_entries(dir_).empty());
}

// ---------------------------------------------------------------- refusals

TEST(CheckpointCodec, EveryTruncationIsRefused) {
  const std::string bytes = snapshot_encode(make_snapshot());
  ASSERT_GT(bytes.size(), 100u);
  for (size_t len = 0; len < bytes.size(); ++len)
    expect_refused([&] { snapshot_decode(bytes.substr(0, len), "cut.pb"); }, "cut.pb",
                   "truncated to " + std::to_string(len) + " of " + std::to_string(bytes.size()) + " bytes");
}

TEST(CheckpointCodec, EverySingleByteCorruptionIsRefused) {
  // CRC32 catches every error burst up to 32 bits in the payload; damage to the
  // framing must be caught too. Three patterns per byte: low bit, high bit, all bits.
  const std::string bytes = snapshot_encode(make_snapshot());
  ASSERT_LT(bytes.size(), 20000u) << "keep this test fast: shrink the snapshot";
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = char(bad[i] ^ mask);
      expect_refused([&] { snapshot_decode(bad, "flip.pb"); }, "flip.pb",
                     "byte " + std::to_string(i) + " xor " + std::to_string(mask));
    }
  }
}

TEST_F(CheckpointDir, ForeignFilesAreRefusedWithTheirName) {
  std::string random(512, '\0');
  uint64_t x = 88172645463325252ULL;  // xorshift64: deterministic noise
  for (auto& c : random) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = char(x);
  }
  const std::vector<std::pair<std::string, std::string>> files{
      {"random.pb", random},
      {"notes.txt", "step 42: loss 0.1\nthis is not a checkpoint\n"},
      {"empty.pb", ""},
      {"other-proto.pb", std::string("\x0a\x03" "abc", 5)},  // a CheckpointFile-shaped message
      {"idx.pb", std::string("\x00\x00\x08\x01\x00\x00\x00\x02\x05\x07", 10)},
      {"gzip.pb", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10)},
  };
  for (const auto& [name, bytes] : files) {
    write_file(path(name), bytes);
    expect_refused([&] { snapshot_load(path(name)); }, path(name), name);
    expect_refused([&] { snapshot_decode(bytes, name); }, name, name + " (decode)");
  }
  expect_refused([&] { snapshot_load(path("missing.pb")); }, path("missing.pb"), "missing file");
  expect_refused([&] { snapshot_load(dir_); }, dir_, "a directory");
}

TEST(CheckpointCodec, RightCrcButWrongFormatTagIsRefused) {
  // A valid-looking file from another program: correct CRC, other format tag.
  const std::string payload = contract_payload(1, 2, 0.f, 1.f, {{2, 2, 2, {1, 2, 3, 4}, {0, 0}}}, 2);
  std::string f;
  put_bytes(f, 1, payload);
  put_fixed32(f, 2, zlib_crc(payload));
  put_bytes(f, 3, "someone-elses-format-v1");
  expect_refused([&] { snapshot_decode(f, "other.pb"); }, "other.pb", "foreign format tag");
  // The same file with our tag is accepted: the tag is what made the difference.
  EXPECT_NO_THROW(snapshot_decode(wrap_file(payload), "ours.pb"));
}

TEST(CheckpointCodec, PayloadThatIsNotACheckpointIsRefused) {
  // Framing and CRC are right but the payload is not a Checkpoint message.
  expect_refused([&] { snapshot_decode(wrap_file("\xff\xff\xff\xff garbage"), "junk.pb"); }, "junk.pb",
                 "garbage payload");
  expect_refused([&] { snapshot_decode(wrap_file(""), "void.pb"); }, "void.pb", "empty payload");
}

TEST(CheckpointCodec, InconsistentNetworksAreRefused) {
  const std::vector<float> w0(6 * 4, 0.1f), b0(4, 0.f), w1(4 * 3, 0.2f), b1(3, 0.f);
  const LayerSpec l0{6, 4, 1, w0, b0}, l1{4, 3, 2, w1, b1};
  ASSERT_NO_THROW(snapshot_decode(wrap_file(contract_payload(2, 3, 0.f, 1.f, {l0, l1}, 3)), "good.pb"));

  struct Case {
    const char* what;
    std::string payload;
  };
  LayerSpec short_w = l0, long_w = l0, short_b = l1, wrong_act = l0, wrong_in = l1, nan_w = l0, wide = l1;
  short_w.weight.pop_back();
  long_w.weight.push_back(1.f);
  short_b.bias.pop_back();
  wrong_act.activation = 3;  // IDENTITY hidden layer
  wrong_in.in = 5;
  nan_w.weight[7] = std::nanf("");
  LayerSpec last_relu = l1;
  last_relu.activation = 1;
  const std::vector<Case> cases{
      {"weight one short", contract_payload(2, 3, 0.f, 1.f, {short_w, l1}, 3)},
      {"weight one long", contract_payload(2, 3, 0.f, 1.f, {long_w, l1}, 3)},
      {"bias one short", contract_payload(2, 3, 0.f, 1.f, {l0, short_b}, 3)},
      {"hidden activation not ReLU", contract_payload(2, 3, 0.f, 1.f, {wrong_act, l1}, 3)},
      {"output activation not softmax", contract_payload(2, 3, 0.f, 1.f, {l0, last_relu}, 3)},
      {"layers do not chain", contract_payload(2, 3, 0.f, 1.f, {l0, wrong_in}, 3)},
      {"input shape is not the first layer's width", contract_payload(3, 3, 0.f, 1.f, {l0, l1}, 3)},
      {"num_classes not the last width", contract_payload(2, 3, 0.f, 1.f, {l0, l1}, 4)},
      {"no layers", contract_payload(2, 3, 0.f, 1.f, {}, 3)},
      {"zero rows", contract_payload(0, 3, 0.f, 1.f, {l0, l1}, 3)},
      {"std zero", contract_payload(2, 3, 0.f, 0.f, {l0, l1}, 3)},
      {"mean NaN", contract_payload(2, 3, std::nanf(""), 1.f, {l0, l1}, 3)},
      {"NaN weight", contract_payload(2, 3, 0.f, 1.f, {nan_w, l1}, 3)},
  };
  for (const Case& c : cases) expect_refused([&] { snapshot_decode(wrap_file(c.payload), "bad.pb"); }, "bad.pb", c.what);
}

TEST(CheckpointCodec, AdamMomentsOfWrongLengthAreRefused) {
  // The writer refuses to encode moments that do not fit the network...
  Snapshot s = make_snapshot();
  s.state.adam.v.pop_back();
  EXPECT_THROW(snapshot_encode(s), Error);
  // ...and the reader refuses such files from elsewhere. Appending a second copy
  // of the optimizer-state field (Checkpoint field 5) makes protobuf merge it:
  // its repeated m and v get concatenated, twice as long as the parameters.
  const std::string payload = checkpoint_payload(snapshot_encode(make_snapshot()));
  std::map<int, WireField> fields;
  ASSERT_TRUE(wire_parse(payload, &fields));
  ASSERT_TRUE(fields.count(5)) << "optimizer state missing from the payload";
  std::string doubled = payload;
  put_bytes(doubled, 5, fields[5].bytes);
  expect_refused([&] { snapshot_decode(wrap_file(doubled), "moments.pb"); }, "moments.pb", "moments twice as long");
}

TEST(CheckpointCodec, InputShapesWhosePixelCountWrapsAreRefused) {
  // 65536 x 65536 = 2^32 wraps to 0 in 32 bits; a first layer of 0 inputs would then chain.
  // (Found by reading while writing the fuzz targets.)
  const std::string payload = contract_payload(65536, 65536, 0.f, 1.f, {{0, 3, 2, {}, {0.f, 0.f, 0.f}}}, 3);
  expect_refused([&] { snapshot_decode(wrap_file(payload), "wrap.pb"); }, "wrap.pb", "65536x65536 input");
  std::vector<float> params;
  expect_refused([&] { model_from_proto(checkpoint_file_decode(wrap_file(payload), "wrap.pb"), "wrap.pb", &params); },
                 "wrap.pb", "65536x65536 input, the scorer's reader");
}

TEST(CheckpointCodec, HiddenWidthsThatDisagreeWithTheLayersAreRefused) {
  // Field 9 repeats the hidden widths; a file where they disagree is inconsistent.
  Checkpoint ck = checkpoint_file_decode(snapshot_encode(make_snapshot()), "mem");
  ASSERT_EQ(ck.training().hidden_size(), 1);
  EXPECT_EQ(ck.training().hidden(0), 4u);
  EXPECT_NO_THROW(snapshot_decode(checkpoint_file_encode(ck), "same.pb"));
  ck.mutable_training()->set_hidden(0, 5);
  expect_refused([&] { snapshot_decode(checkpoint_file_encode(ck), "hidden.pb"); }, "hidden.pb", "hidden 5, layer 4");
  std::vector<float> params;  // a real buffer: without the check this would load, not crash
  expect_refused([&] { model_from_proto(ck, "hidden.pb", &params); }, "hidden.pb", "the scorer's reader too");
}

TEST(CheckpointCodec, NonFiniteParametersAreRefused) {
  Snapshot s = make_snapshot();
  s.params[5] = std::numeric_limits<float>::infinity();
  expect_refused([&] { snapshot_decode(snapshot_encode(s), "inf.pb"); }, "inf.pb", "Inf parameter");
}

// ---------------------------------------------------------------- directories

TEST(CheckpointName, IsStepWithEightDigits) {
  EXPECT_EQ(checkpoint_name(42), "ckpt-00000042.pb");
  EXPECT_EQ(checkpoint_name(0), "ckpt-00000000.pb");
  EXPECT_EQ(checkpoint_name(99999999), "ckpt-99999999.pb");
  EXPECT_EQ(checkpoint_name(123456789), "ckpt-123456789.pb");  // wider, not truncated
}

TEST_F(CheckpointDir, ListSortsByStepAndIgnoresOtherFiles) {
  for (uint64_t step : {2, 10, 1}) write_file(path(checkpoint_name(step)), "x");
  write_file(path(checkpoint_name(100000000)), "x");  // 9 digits: sorts last by number, not by name
  for (const char* other : {"notes.txt", "ckpt-.pb", "ckpt-00000003.pbx", "ckpt-00000004.pb.tmp", "ckpt-abc.pb",
                            ".ckpt-00000005.pb.tmp.1234", "xckpt-00000006.pb", "ckpt-0000000x7.pb"})
    write_file(path(other), "x");
  const std::vector<std::string> expect{path(checkpoint_name(1)), path(checkpoint_name(2)),
                                        path(checkpoint_name(10)), path(checkpoint_name(100000000))};
  EXPECT_EQ(checkpoint_list(dir_), expect);
}

TEST_F(CheckpointDir, ListOfEmptyOrMissingDirectoryIsEmpty) {
  EXPECT_TRUE(checkpoint_list(dir_).empty());
  write_file(path("notes.txt"), "x");
  EXPECT_TRUE(checkpoint_list(dir_).empty());
  EXPECT_TRUE(checkpoint_list(path("missing")).empty());
}

TEST_F(CheckpointDir, PruneKeepsTheNewest) {
  for (uint64_t step : {5, 1, 40, 3, 20}) write_file(path(checkpoint_name(step)), "x");
  write_file(path("notes.txt"), "x");

  checkpoint_prune(dir_, 0);  // 0 means keep everything
  EXPECT_EQ(checkpoint_list(dir_).size(), 5u);
  checkpoint_prune(dir_, 9);  // more than there are: nothing to delete
  EXPECT_EQ(checkpoint_list(dir_).size(), 5u);

  checkpoint_prune(dir_, 2);
  EXPECT_EQ(checkpoint_list(dir_), (std::vector<std::string>{path(checkpoint_name(20)), path(checkpoint_name(40))}));
  EXPECT_TRUE(fs::exists(path("notes.txt")));  // other files are never touched

  checkpoint_prune(dir_, 1);
  EXPECT_EQ(checkpoint_list(dir_), (std::vector<std::string>{path(checkpoint_name(40))}));
}

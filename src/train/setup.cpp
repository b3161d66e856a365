#include "digitnet/train/setup.hpp"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// The checkpoint --resume names: a file, a directory's newest valid checkpoint,
// or "latest"/"auto" in --checkpoint-dir (auto: none there means a fresh start,
// the first run of a requeued job). Corrupt newer files are skipped with a
// warning, so that the last good checkpoint is used.
std::optional<Snapshot> resume_find(const TrainOptions& o, TrainStart& start) {
  if (o.resume.empty() || (o.resume == "auto" && checkpoint_list(o.checkpoint_dir).empty())) return std::nullopt;
  const std::string dir = o.resume == "latest" || o.resume == "auto" ? o.checkpoint_dir : o.resume;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    start.resumed_from = o.resume;
    return snapshot_load(o.resume);
  }
  const auto all = checkpoint_list(dir);
  if (all.empty()) fail(ErrorKind::checkpoint, "--resume " + o.resume + ": no ckpt-*.pb in " + dir);
  for (size_t i = all.size(); i-- > 0;) {
    try {
      Snapshot s = snapshot_load(all[i]);
      start.resumed_from = all[i];
      return s;
    } catch (const Error& e) {
      start.warnings.push_back(std::string("skipping ") + e.what());
    }
  }
  fail(ErrorKind::checkpoint, "--resume " + o.resume + ": no valid checkpoint in " + dir);
}

// Both splits, the training set cut to its first `limit` samples (0: all), checked against each other.
void data_load(const std::string& dir, uint64_t limit, TrainStart& start) {
  start.train = dataset_load_split(dir, "train");
  start.test = dataset_load_split(dir, "t10k");
  if (limit) dataset_truncate(start.train, limit);
  const Dataset& train = start.train;
  const Dataset& test = start.test;
  if (test.rows != train.rows || test.cols != train.cols)
    fail(ErrorKind::data, dir + ": test images are " + std::to_string(test.rows) + "x" + std::to_string(test.cols) +
                              ", training images " + std::to_string(train.rows) + "x" + std::to_string(train.cols));
  if (train.num_classes < 2) fail(ErrorKind::data, dir + ": training labels hold fewer than 2 classes");
  if (train.features() > (size_t(1) << 24))  // the model counts inputs in 32 bits
    fail(ErrorKind::data, dir + ": images of " + std::to_string(train.rows) + "x" + std::to_string(train.cols) +
                              " pixels are more than this trainer takes (at most 16,777,216 pixels per image)");
  if (test.num_classes > train.num_classes)
    fail(ErrorKind::data, dir + ": test labels go up to " + std::to_string(test.num_classes - 1) +
                              ", training labels only to " + std::to_string(train.num_classes - 1));
}

// Refuses to resume with settings that would change the model or the data order.
void resume_check(const TrainOptions& o, const Snapshot& snap, const Dataset& train, const std::string& path) {
  const TrainState& s = snap.state;
  model_check_data(s.model, train, path);
  auto refuse = [&](const std::string& what) { fail(ErrorKind::checkpoint, path + ": cannot resume: " + what); };
  if (s.train_count != train.count)
    refuse("checkpoint was trained on " + std::to_string(s.train_count) + " samples, data has " +
           std::to_string(train.count));
  if (o.given.count("hidden") && s.model.shape.hidden != o.hidden)
    refuse("checkpoint layers are " + s.model.shape.str() + ", --hidden asks for " +
           MlpShape{s.model.shape.inputs, o.hidden, s.model.shape.classes}.str());
  if (o.given.count("batch-size") && s.batch_size != o.batch_size)
    refuse("checkpoint global batch is " + std::to_string(s.batch_size) + ", --batch-size asks for " +
           std::to_string(o.batch_size) + " (the data order depends on it)");
  if (o.given.count("seed") && s.seed != o.seed)
    refuse("checkpoint seed is " + std::to_string(s.seed) + ", --seed asks for " + std::to_string(o.seed));
  if (s.adam.m.empty()) refuse("it holds no optimizer state (model-only checkpoint)");
}

// Settings not given now continue as recorded; the learning rate and the like may be changed on purpose.
void resume_continue(const TrainOptions& o, TrainState& s) {
  s.epochs = o.given.count("epochs") ? o.epochs : std::max<uint64_t>(s.epochs, 1);
  s.max_steps = o.max_steps;  // a limit of this invocation, not of the run
  recipe_override(s.recipe, o.recipe, o.given);
}

void fresh_start(const TrainOptions& o, TrainStart& start) {
  TrainState& s = start.state;
  const Dataset& train = start.train;
  s.model.shape = MlpShape{uint32_t(train.features()), o.hidden, train.num_classes};
  s.model.rows = train.rows;
  s.model.cols = train.cols;
  s.model.input = input_norm_fit(train);
  s.batch_size = o.batch_size;
  s.seed = o.seed;
  s.epochs = o.epochs;
  s.max_steps = o.max_steps;
  s.train_count = train.count;
  s.recipe = o.recipe;
  start.params.resize(s.model.shape.num_params());
  mlp_init(s.model.shape, s.seed, start.params.data());
  s.adam.reset(start.params.size());
}

}  // namespace

TrainStart train_setup(const TrainOptions& opts, int world_size) {
  TrainStart start;
  std::optional<Snapshot> resumed = resume_find(opts, start);
  // A run on the first N samples continues on them unless told otherwise.
  const bool keep_limit = resumed && !opts.given.count("train-limit") && resumed->state.train_count;
  data_load(opts.data_dir, keep_limit ? resumed->state.train_count : opts.train_limit, start);
  if (resumed) {
    resume_check(opts, *resumed, start.train, start.resumed_from);
    start.state = std::move(resumed->state);
    start.params = std::move(resumed->params);
    resume_continue(opts, start.state);
  } else {
    fresh_start(opts, start);
  }
  if (start.state.batch_size < uint64_t(world_size))
    fail(ErrorKind::usage, "--batch-size " + std::to_string(start.state.batch_size) + " is smaller than the " +
                               std::to_string(world_size) + " ranks: every rank needs at least one sample");
  return start;
}

}  // namespace digitnet

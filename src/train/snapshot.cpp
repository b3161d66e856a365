#include "digitnet/train/snapshot.hpp"

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// Where the run stands and what it is; the model, the recipe, the optimizer
// and the history write their own fields.
void progress_to_proto(const TrainState& s, TrainingState* t) {
  t->set_step(s.step);
  t->set_epoch(s.epoch);
  t->set_step_in_epoch(s.step_in_epoch);
  t->set_batch_size(s.batch_size);
  t->set_seed(s.seed);
  t->set_epochs(s.epochs);
  t->set_train_count(s.train_count);
  t->set_max_steps(s.max_steps);
}

void progress_from_proto(const TrainingState& t, TrainState& s) {
  s.step = t.step();
  s.epoch = t.epoch();
  s.step_in_epoch = t.step_in_epoch();
  s.batch_size = t.batch_size();
  s.seed = t.seed();
  s.epochs = t.epochs();
  s.train_count = t.train_count();
  s.max_steps = t.max_steps();
}

void run_to_proto(const RunMetadata& m, Checkpoint* ck) {
  ck->mutable_training()->set_world_size(m.world_size);
  RunInfo* run = ck->mutable_run();
  run->set_program("digitnet-train");
  run->set_version(DIGITNET_VERSION);
  run->set_hostname(m.hostname);
  run->set_slurm_job_id(m.slurm_job_id);
  run->set_unix_time(m.unix_time);
  run->set_threads(m.threads);
}

RunMetadata run_from_proto(const Checkpoint& ck) {
  RunMetadata m;
  m.world_size = ck.training().world_size();
  m.threads = ck.run().threads();
  m.hostname = ck.run().hostname();
  m.slurm_job_id = ck.run().slurm_job_id();
  m.unix_time = ck.run().unix_time();
  return m;
}

Checkpoint snapshot_to_proto(const Snapshot& snap) {
  const TrainState& s = snap.state;
  if (!s.adam.m.empty() && (s.adam.m.size() != snap.params.size() || s.adam.v.size() != snap.params.size()))
    fail(ErrorKind::runtime, "snapshot_encode: optimizer state size does not match model " + s.model.shape.str());
  Checkpoint ck;
  model_to_proto(s.model, snap.params, &ck);
  progress_to_proto(s, ck.mutable_training());
  recipe_to_proto(s.recipe, &ck);
  adam_state_to_proto(s.adam, ck.mutable_adam());
  best_to_proto(s.best, &ck);
  history_to_proto(s.history, &ck);
  run_to_proto(snap.run, &ck);
  return ck;
}

Snapshot snapshot_from_proto(const Checkpoint& ck, const std::string& name) {
  Snapshot snap;
  TrainState& s = snap.state;
  s.model = model_from_proto(ck, name, &snap.params);
  progress_from_proto(ck.training(), s);
  s.recipe = recipe_from_proto(ck, name);
  s.adam = adam_state_from_proto(ck.adam(), snap.params.size(), name);
  s.best = best_from_proto(ck);
  s.history = history_from_proto(ck);
  snap.run = run_from_proto(ck);
  return snap;
}

}  // namespace

std::string snapshot_encode(const Snapshot& snap) { return checkpoint_file_encode(snapshot_to_proto(snap)); }

Snapshot snapshot_decode(const std::string& bytes, const std::string& name) {
  return snapshot_from_proto(checkpoint_file_decode(bytes, name), name);
}

void snapshot_save(const std::string& path, const Snapshot& snap) { checkpoint_file_write(path, snapshot_to_proto(snap)); }

Snapshot snapshot_load(const std::string& path) { return snapshot_from_proto(checkpoint_file_read(path), path); }

}  // namespace digitnet

#include "digitnet/train/history.hpp"

#include "digitnet/checkpoint.pb.h"

namespace digitnet {

void history_to_proto(const std::vector<EpochRecord>& history, Checkpoint* ck) {
  for (const EpochRecord& r : history) {
    EpochMetrics* h = ck->add_history();
    h->set_epoch(r.epoch);
    h->set_step(r.step);
    h->set_train_loss(r.train_loss);
    h->set_train_accuracy(r.train_accuracy);
    h->set_test_loss(r.test_loss);
    h->set_test_accuracy(r.test_accuracy);
    h->set_seconds(r.seconds);
    h->set_samples_per_second(r.samples_per_second);
    h->set_allreduce_fraction(r.allreduce_fraction);
    h->set_comm_total_fraction(r.comm_total_fraction);
  }
}

std::vector<EpochRecord> history_from_proto(const Checkpoint& ck) {
  std::vector<EpochRecord> history;
  for (const EpochMetrics& h : ck.history())
    history.push_back({h.epoch(), h.step(), h.train_loss(), h.train_accuracy(), h.test_loss(), h.test_accuracy(),
                       h.seconds(), h.samples_per_second(), h.allreduce_fraction(), h.comm_total_fraction()});
  return history;
}

bool BestSoFar::update(double accuracy, uint64_t at_step) {
  if (accuracy > test_accuracy) {
    test_accuracy = accuracy;
    step = at_step;
    evals_since = 0;
    return true;
  }
  ++evals_since;
  return false;
}

void best_to_proto(const BestSoFar& best, Checkpoint* ck) {
  TrainingState* t = ck->mutable_training();
  t->set_best_test_accuracy(best.test_accuracy);
  t->set_best_step(best.step);
  t->set_evals_since_best(best.evals_since);
}

BestSoFar best_from_proto(const Checkpoint& ck) {
  const TrainingState& t = ck.training();
  return {t.best_test_accuracy(), t.best_step(), t.evals_since_best()};
}

}  // namespace digitnet

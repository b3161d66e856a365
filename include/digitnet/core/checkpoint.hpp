// Checkpoint files (DESIGN.md invariants 4 and 5): one serialized CheckpointFile,
// a checksummed, tagged Checkpoint message, written atomically. This part knows
// the file and the network a checkpoint holds; the training state in it belongs
// to train/ (train/snapshot.hpp), each part reading and writing its own fields.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/core/model.hpp"

namespace digitnet {

class Checkpoint;  // the message of proto/digitnet/checkpoint.proto

// ---- the file ----

// "ckpt-00000042.pb"
std::string checkpoint_name(uint64_t step);

// Bytes of a checkpoint file holding `ck`, and the inverse. The decoder refuses
// truncated, corrupted or foreign input; `name` is used in error messages.
std::string checkpoint_file_encode(const Checkpoint& ck);
Checkpoint checkpoint_file_decode(const std::string& bytes, const std::string& name);

// Reads and decodes a file; writes one atomically (temporary file in the same
// directory, fsync, rename, fsync of the directory).
Checkpoint checkpoint_file_read(const std::string& path);
void checkpoint_file_write(const std::string& path, const Checkpoint& ck);

// Checkpoint files of a directory, oldest step first.
std::vector<std::string> checkpoint_list(const std::string& dir);
// Deletes all but the newest `keep` checkpoints (keep == 0: delete none).
void checkpoint_prune(const std::string& dir, size_t keep);

// ---- the network it holds ----

// What a model is, without its parameters.
struct ModelSpec {
  MlpShape shape;
  uint32_t rows = 0, cols = 0;  // image shape; rows * cols == shape.inputs
  InputNorm input;
};

// The contract fields of DESIGN.md: input, layers, num_classes (and the hidden
// widths of the training state, which must agree with the layers).
void model_to_proto(const ModelSpec& spec, const std::vector<float>& params, Checkpoint* ck);
// Validates every dimension and value; params receives the flat parameters.
ModelSpec model_from_proto(const Checkpoint& ck, const std::string& name, std::vector<float>* params);

// A model read from a checkpoint, and how far its training had come: what the scorer needs.
struct ModelCheckpoint {
  ModelSpec spec;
  std::vector<float> params;  // flat, mlp_layout order
  uint64_t step = 0, epoch = 0;
  // The newest test accuracy its training history recorded (fraction 0-1), and the
  // step it was measured at; NaN when no epoch was evaluated.
  double test_accuracy = std::numeric_limits<double>::quiet_NaN();
  uint64_t test_accuracy_step = 0;
};
ModelCheckpoint model_checkpoint_load(const std::string& path);

// Refuses (Error(checkpoint), naming `name`) a data set this model cannot take:
// other image dimensions, or labels beyond its classes. The trainer's resume and
// the scorer share it.
void model_check_data(const ModelSpec& spec, const Dataset& ds, const std::string& name);

}  // namespace digitnet

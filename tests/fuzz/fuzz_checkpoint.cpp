// Fuzz target: checkpoint files, read as the scorer reads them (the network)
// and as a resume reads them (the whole training state), and written again.
#include <zlib.h>

#include <cstdio>
#include <vector>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/train/snapshot.hpp"
#include "fuzz.hpp"

namespace digitnet::fuzz {

namespace {

const char* const kName = "fuzz.pb";

// A checkpoint file around a payload: the CRC and tag checkpoint_file_decode expects.
std::string wrap_payload(const std::string& payload) {
  CheckpointFile file;
  file.set_checkpoint(payload);
  file.set_crc32(uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(payload.data()),
                                uInt(payload.size()))));
  file.set_format("digitnet-checkpoint-v1");
  return file.SerializeAsString();
}

}  // namespace

std::string checkpoint_input(CheckpointMode mode, const std::string& bytes) { return char(mode) + bytes; }

void checkpoint(const uint8_t* data, size_t size) {
  if (size < 1) return;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & kPayload) bytes = wrap_payload(bytes);

  // The scorer: the network alone.
  const Checkpoint ck = checkpoint_file_decode(bytes, kName);
  std::vector<float> params;
  const ModelSpec spec = model_from_proto(ck, kName, &params);
  check(uint64_t(spec.rows) * spec.cols == spec.shape.inputs, "model_from_proto: rows x cols != inputs");
  check(params.size() == spec.shape.num_params(), "model_from_proto: parameter count != shape");

  // A resume: everything; what it accepts, it must write and read back the same.
  const Snapshot snap = snapshot_decode(bytes, kName);
  check(snap.params == params && snap.state.model.shape == spec.shape, "snapshot_decode: model differs");
  try {
    const std::string encoded = snapshot_encode(snap);
    check(snapshot_encode(snapshot_decode(encoded, kName)) == encoded, "snapshot: encode, decode, encode changed it");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    check(false, "snapshot: what was decoded cannot be written and read back");
  }
}

}  // namespace digitnet::fuzz

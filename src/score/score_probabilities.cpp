// digitnet-score --probabilities: every test image's class probabilities as CSV, so
// other implementations of the model (the ONNX export, scripts) can be compared with ours.
#include <cstdio>

#include "digitnet/core/file_io.hpp"
#include "score_common.hpp"

namespace digitnet {

void score_probabilities_write(const std::string& path, const Dataset& ds, const std::vector<float>& probs,
                               uint32_t classes) {
  std::string csv = "index,label";
  for (uint32_t c = 0; c < classes; ++c) csv += ",p" + std::to_string(c);
  csv += '\n';
  char cell[32];
  for (size_t i = 0; i < ds.count; ++i) {
    csv += std::to_string(i) + "," + std::to_string(ds.labels[i]);
    for (uint32_t c = 0; c < classes; ++c) {
      std::snprintf(cell, sizeof cell, ",%.9g", probs[i * classes + c]);
      csv += cell;
    }
    csv += '\n';
  }
  file_write_atomic(path, csv.data(), csv.size());
}

}  // namespace digitnet

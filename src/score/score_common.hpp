// Pieces the scorer's two modes (IDX test set, image files) share. Private to src/.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/core/eval.hpp"

namespace digitnet {

// Checkpoint files named by the user; a directory means every ckpt-*.pb in it, oldest first.
std::vector<std::string> score_checkpoint_files(const std::vector<std::string>& inputs);

// accuracy, loss, correct, count, precision, recall, confusion.
nlohmann::json score_eval_json(const EvalResult& r);

uint32_t score_argmax(const float* probs, uint32_t classes);

nlohmann::json score_pixels_json(const uint8_t* pixels, size_t n);

// --probabilities FILE: a header "index,label,p0,...", then a row per sample of ds with its
// probs (count, classes) as %.9g (float32 round-trips); written atomically.
void score_probabilities_write(const std::string& path, const Dataset& ds, const std::vector<float>& probs,
                               uint32_t classes);

}  // namespace digitnet

// Reading digits off one image: the steps digitnet-score --images takes for each
// file and digitnet-serve for each upload, in one place so that both give the
// same answer for the same image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/image/preprocess.hpp"

namespace digitnet {

// A checkpoint file as given, or the newest checkpoint of a directory.
std::string recognise_checkpoint_file(const std::string& file_or_dir);

// Preprocessing for the model's input size; mode "auto", "full" or "none".
PreprocessOptions recognise_preprocess_options(const ModelSpec& spec, const std::string& mode);

// What the network sees of one image: one digit, or with read_number the digits
// of a number, left to right. Throws Error(data) when there is no digit to see.
std::vector<DigitImage> recognise_preprocess(const GrayImage& img, const PreprocessOptions& pre, bool read_number);

// Softmax probabilities (views, classes) of network-view images, in one batch.
std::vector<float> recognise_predict(Mlp& model, const ModelSpec& spec, const std::vector<const GrayImage*>& views);

// Classes ranked by probability, most likely first (a tie keeps the lower class first).
std::vector<uint32_t> recognise_ranked(const float* probs, uint32_t classes);

}  // namespace digitnet

// Fuzz target: image files decoded (image_read), then preprocessed as one digit
// and as a number when they are small enough to be quick.
#include <vector>

#include "digitnet/core/error.hpp"
#include "digitnet/image/image.hpp"
#include "digitnet/image/preprocess.hpp"
#include "fuzz.hpp"

namespace digitnet::fuzz {

namespace {

void check_network_input(const DigitImage& d, const PreprocessOptions& opts) {
  check(d.pixels.width == opts.cols && d.pixels.height == opts.rows &&
            d.pixels.pixels.size() == size_t(opts.rows) * size_t(opts.cols),
        "preprocess: output is not the network's input size");
}

}  // namespace

void image(const uint8_t* data, size_t size) {
  const GrayImage img = image_read(scratch_file(0, std::string(reinterpret_cast<const char*>(data), size)));
  check(img.width > 0 && img.height > 0 && img.pixels.size() == size_t(img.width) * size_t(img.height),
        "image_read: size and pixels disagree");
  if (int64_t(img.width) * img.height > kMaxPreprocessPixels) return;

  const PreprocessOptions opts;  // 28x28, automatic
  try {
    check_network_input(preprocess_digit(img, opts), opts);
  } catch (const Error&) {
    // no ink: the number below may still be tried
  }
  for (const DigitImage& d : preprocess_number(img, opts)) check_network_input(d, opts);
}

}  // namespace digitnet::fuzz

// MNIST-style preprocessing: turns any photo or scan of a handwritten digit into
// what the network was trained on — white ink on black, the digit scaled into a
// 20x20 box (for 28x28 inputs) and centred by its centre of mass.
// The steps, in order (preprocess.cpp has one function per step):
//   1. gray; working resolution: longest side brought into [128, 512] pixels
//   2. background: a smooth cubic surface fitted to the paper, robustly (starting
//      from a plane through the border, ink of either polarity excluded), is
//      subtracted — uneven lighting, gradients, vignetting
//   3. ink polarity: ink is the heavy tail of what remains (the parts clear of the
//      image's edge decide, when there are enough of them); dark ink on light
//      paper (the usual photo) is flipped so that ink is high
//   4. local background: shadows the cubic missed, by a grey-level opening with a
//      square 3 stroke widths wide (a shadow's edge survives it, ink does not);
//      the width is the smaller of the ink mask's and the width across strokes
//   5. threshold relative to the paper noise and the ink contrast; the ink keeps
//      its anti-aliased levels at the stroke edges
//   6. components: shadows touching the image edge and specks are dropped; one
//      digit is the group of parts around the largest (far blots are dropped)
//   7. crop to the ink; the digit's own ink level becomes full scale
//   8. stroke width: measured; a pen 1.5x thinner or thicker than MNIST's (2.2 px
//      at the 20-px box) is skeletonised and redrawn at MNIST's width, except
//      thick blurred strokes (an enlarged low-resolution scan), whose loops the
//      skeleton would lose: their faint outer blur is trimmed instead
//   9. the longest side scaled to the box (area-averaging), aspect ratio kept
//  10. placed in the input frame with its centre of mass at the centre
// --read applies steps 1-6 (all but the grouping into one digit) to the whole image,
// then splits the ink into digits.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/image/image.hpp"

namespace digitnet {

enum class PreprocessMode {
  automatic,  // images already in the network's format (its size, light ink on black) pass unchanged
  full,       // always run every step
  none,       // only check the size and use the pixels as they are
};
PreprocessMode preprocess_mode_parse(const std::string& name);  // "auto", "full", "none"

struct PreprocessOptions {
  int rows = 28, cols = 28;  // the network's input
  PreprocessMode mode = PreprocessMode::automatic;
};

// What the network sees, plus what preprocessing found out on the way.
struct DigitImage {
  GrayImage pixels;            // rows x cols, white ink on black
  bool passed_through = false; // already network-format: unchanged
  bool inverted = false;       // dark ink on light paper was found
  double stroke_width = 0;     // measured, in pixels at the box size
  bool stroke_redrawn = false; // stroke width normalised
  bool blurred = false;        // soft strokes (an enlarged low-resolution scan): thick ones keep their levels
  int x = 0, width = 0;        // where the digit was in the image (--read), in image pixels
};

// One digit per image. Throws Error(data) when there is no ink or the size is wrong.
DigitImage preprocess_digit(const GrayImage& img, const PreprocessOptions& opts);

// Several digits on one line, left to right. Throws Error(data) when there is no ink.
std::vector<DigitImage> preprocess_number(const GrayImage& img, const PreprocessOptions& opts);

// Stroke width of a binary shape (pixels > 0.5): 2 * area / boundary length.
// Exposed for tests and for calibrating the target width on MNIST.
double stroke_width_estimate(const std::vector<float>& plane, int width, int height);

// Text art of an image, one character per pixel (for --show).
std::string image_text_art(const GrayImage& img);

}  // namespace digitnet

// Image files: decoding (PNG, JPEG, BMP, PGM/PPM, and TIFF/GIF/WebP) into 8-bit
// gray, and writing gray PNGs. PNG is read and written by libpng, JPEG read by
// libjpeg-turbo, the other formats by Leptonica. Every file is untrusted: its
// header is checked (format, dimensions) before a pixel is decoded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace digitnet {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 0 = black, 255 = white
  uint8_t at(int x, int y) const { return pixels[size_t(y) * size_t(width) + size_t(x)]; }
};

// Largest image accepted, in pixels (a 48-megapixel phone photo fits).
constexpr int64_t kMaxImagePixels = 64LL * 1000 * 1000;

// Reads an image file as gray (luminance; transparent parts count as white paper).
// Throws Error(data) naming the file for anything that is not a whole, sane image.
GrayImage image_read(const std::string& path);

// The same for an image already in memory (an upload); errors name it `name`.
GrayImage image_decode(const std::string& bytes, const std::string& name);

// True when the file name ends in an image extension the reader knows (case-insensitive).
bool image_has_known_extension(const std::string& path);

// Writes img as an 8-bit gray PNG (atomically: a temporary file, then rename).
void image_write_png(const std::string& path, const GrayImage& img);

}  // namespace digitnet

// Image files are untrusted: every malformed or hostile file is refused with an
// Error naming it, never a crash. Also built with AddressSanitizer (test_image_asan).
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <fstream>
#include <random>
#include <string>

#include "digitnet/core/error.hpp"
#include "digitnet/image/image.hpp"
#include "digitnet/image/preprocess.hpp"
#include "temp_dir.hpp"

using namespace digitnet;

namespace {

class ImageTest : public test::TempDirTest {
 protected:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read(const std::string& name) {
    std::ifstream in(path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The refusal names the file and says what is wrong.
  void expect_refused(const std::string& name, const std::string& what) {
    try {
      image_read(path(name));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::data) << e.what();
      EXPECT_NE(std::string(e.what()).find(path(name)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
};

GrayImage gradient_digit(int w, int h) {
  GrayImage img;
  img.width = w, img.height = h;
  img.pixels.resize(size_t(w) * size_t(h));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool ink = std::abs(x - w / 2) < w / 10 && y > h / 5 && y < 4 * h / 5;  // a "1"
      img.pixels[size_t(y) * size_t(w) + size_t(x)] = uint8_t(ink ? 20 : 200 + (x * 40) / w);
    }
  return img;
}

std::string jpeg_of(const GrayImage& img, int quality) {
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, img.pixels.data(), img.width, 0, img.height, TJPF_GRAY, &out, &size, TJSAMP_GRAY,
                        quality, 0), 0);
  std::string bytes(reinterpret_cast<char*>(out), size);
  tjFree(out);
  tjDestroy(tj);
  return bytes;
}

}  // namespace

TEST_F(ImageTest, PngRoundTripIsExact) {
  const GrayImage img = gradient_digit(37, 23);
  image_write_png(path("a.png"), img);
  const GrayImage back = image_read(path("a.png"));
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 23);
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST_F(ImageTest, JpegBmpAndPgmDecode) {
  const GrayImage img = gradient_digit(64, 48);
  write("a.jpg", jpeg_of(img, 95));
  const GrayImage j = image_read(path("a.jpg"));
  ASSERT_EQ(j.pixels.size(), img.pixels.size());
  int worst = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) worst = std::max(worst, std::abs(int(j.pixels[i]) - int(img.pixels[i])));
  EXPECT_LT(worst, 40);  // lossy, but the same picture
  std::string pgm = "P5\n64 48\n255\n";
  pgm.append(img.pixels.begin(), img.pixels.end());
  write("a.pgm", pgm);
  EXPECT_EQ(image_read(path("a.pgm")).pixels, img.pixels);
  // A 2x2 24-bit BMP, bottom-up rows padded to 4 bytes: white, black / black, white.
  const unsigned char bmp[] = {'B', 'M', 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0,
                               1, 0, 24, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0};
  write("a.bmp", std::string(reinterpret_cast<const char*>(bmp), sizeof bmp));
  const GrayImage b = image_read(path("a.bmp"));
  ASSERT_EQ(b.width, 2);
  EXPECT_EQ(b.pixels, (std::vector<uint8_t>{255, 0, 0, 255}));
}

TEST_F(ImageTest, MalformedFilesAreRefused) {
  write("empty.png", "");
  expect_refused("empty.png", "empty file");
  write("text.png", "this is not an image, just text\n");
  expect_refused("text.png", "not an image");
  image_write_png(path("good.png"), gradient_digit(200, 200));
  const std::string png = read("good.png");
  write("cut.png", png.substr(0, png.size() / 2));
  expect_refused("cut.png", "PNG");
  const std::string jpg = jpeg_of(gradient_digit(200, 200), 90);
  write("cut.jpg", jpg.substr(0, jpg.size() * 2 / 3));
  expect_refused("cut.jpg", "JPEG");
  write("header-only.jpg", jpg.substr(0, 20));
  expect_refused("header-only.jpg", "JPEG");
  write("huge.pgm", "P5\n90000 90000\n255\n" + std::string(100, '\0'));
  expect_refused("huge.pgm", "too large");
  // A PNG whose header claims 100000 x 100000 pixels: refused before anything is allocated.
  std::string huge = png;
  const unsigned char dims[8] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0};
  huge.replace(16, 8, reinterpret_cast<const char*>(dims), 8);
  write("huge.png", huge);
  EXPECT_THROW(image_read(path("huge.png")), Error);  // too large, or its header checksum fails
  write("bad.bmp", "BM" + std::string(60, '\xff'));
  expect_refused("bad.bmp", "BMP");
  EXPECT_THROW(image_read(path("missing.png")), Error);
  EXPECT_THROW(image_read(dir_), Error);  // a directory
}

TEST_F(ImageTest, MutatedFilesNeverCrash) {
  // Random byte flips and cuts of valid PNG, JPEG and PGM files: each one decodes to a
  // sane image (which can be preprocessed) or is refused with Error(data) naming the file.
  image_write_png(path("seed.png"), gradient_digit(60, 60));
  const std::vector<std::string> seeds = {read("seed.png"), jpeg_of(gradient_digit(60, 60), 80),
                                          "P5\n8 8\n255\n" + std::string(64, '\x80')};
  const std::string file = path("m.img");
  std::mt19937 rng(42);
  int decoded = 0, refused = 0;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("mutation " + std::to_string(round));
    std::string bytes = seeds[size_t(round) % seeds.size()];
    const int flips = 1 + int(rng() % 8);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = char(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    write("m.img", bytes);
    try {
      const GrayImage img = image_read(file);
      ++decoded;
      const bool sane = img.width > 0 && img.height > 0 && int64_t(img.width) * img.height <= kMaxImagePixels &&
                        img.pixels.size() == size_t(img.width) * size_t(img.height);
      if (!sane) {
        ADD_FAILURE() << "decoded to " << img.width << " x " << img.height << " with " << img.pixels.size()
                      << " pixels";
        continue;
      }
      try {
        preprocess_digit(img, PreprocessOptions{});
      } catch (const Error&) {  // e.g. no ink left: fine
      }
    } catch (const Error& e) {
      ++refused;
      EXPECT_EQ(e.kind(), ErrorKind::data) << e.what();
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << "the refusal does not name the file: "
                                                                      << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "mutation " << round << ": not a digitnet::Error: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "mutation " << round << ": an exception of unknown type";
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(decoded, 0);
}

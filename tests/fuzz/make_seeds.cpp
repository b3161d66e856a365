// Seed corpora of the fuzz targets, made with digitnet's own code from real data:
//   fuzz_seeds OUT MNIST_DIR  ->  OUT/idx, OUT/checkpoint, OUT/image
// idx: heads of MNIST's test files (1 and 2 samples), raw and gzip, alone and as
// data sets; checkpoint: small models and full training snapshots written by
// model_to_proto / snapshot_encode, as files and as payloads; image: MNIST
// digits written as PNG (image_write_png), JPEG (TurboJPEG), BMP, PGM, TIFF, GIF,
// WebP (Leptonica), light-on-dark and dark-on-light, one digit and a number.
#include <leptonica/allheaders.h>
#include <png.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "digitnet/checkpoint.pb.h"
#include "digitnet/core/checkpoint.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/file_io.hpp"
#include "digitnet/image/image.hpp"
#include "digitnet/train/snapshot.hpp"
#include "fuzz.hpp"

using namespace digitnet;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// ---- idx ----

// The first n records of an IDX file (header of `header` bytes, `record` bytes each), count patched to n.
std::string idx_head(const std::string& path, size_t header, size_t record, uint32_t n) {
  std::string bytes = file_read_all(path, uint64_t(1) << 30, ErrorKind::data).substr(0, header + n * record);
  for (int i = 0; i < 4; ++i) bytes[4 + i] = char(n >> (24 - 8 * i));
  return bytes;
}

void idx_seeds(const fs::path& out, const std::string& mnist) {
  using namespace fuzz;
  const std::string images_path = mnist + "/t10k-images-idx3-ubyte", labels_path = mnist + "/t10k-labels-idx1-ubyte";
  for (uint32_t n : {1u, 2u}) {
    const std::string images = idx_head(images_path, 16, 784, n), labels = idx_head(labels_path, 8, 1, n);
    const std::string tag = "mnist" + std::to_string(n);
    put(out, tag + "-images", idx_input(0, "", images));
    put(out, tag + "-images-gz", idx_input(kGzipImages, "", images));
    put(out, tag + "-images-gzip-stream", idx_input(0, "", gzip(images)));
    put(out, tag + "-labels", idx_input(0, "", labels));
    put(out, tag + "-dataset", idx_input(kDataset, labels, images));
    put(out, tag + "-dataset-gz", idx_input(kDataset | kGzipImages | kGzipLabels, labels, images));
    put(out, tag + "-dataset-gzip-streams", idx_input(kDataset, gzip(labels), gzip(images)));
  }
}

// ---- checkpoint ----

ModelSpec small_spec(std::vector<uint32_t> hidden, uint32_t classes) {
  ModelSpec spec;
  spec.rows = 2;
  spec.cols = 2;
  spec.shape.inputs = 4;
  spec.shape.hidden = std::move(hidden);
  spec.shape.classes = classes;
  spec.input = {0.13f, 0.31f};
  return spec;
}

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i % 7) * 0.25f - 0.5f;
  return v;
}

void checkpoint_seeds(const fs::path& out) {
  using namespace fuzz;
  auto both = [&](const std::string& tag, const Checkpoint& ck) {
    put(out, tag + "-file", checkpoint_input(kFile, checkpoint_file_encode(ck)));
    put(out, tag + "-payload", checkpoint_input(kPayload, ck.SerializeAsString()));
  };
  // The network alone, as another writer would leave it (no training state).
  for (const auto& [tag, spec] : {std::pair{"model-4-2", small_spec({}, 2)}, std::pair{"model-4-3-2", small_spec({3}, 2)}}) {
    Checkpoint ck;
    model_to_proto(spec, ramp(spec.shape.num_params()), &ck);
    both(tag, ck);
  }
  // A training snapshot with every part filled in.
  Snapshot snap;
  TrainState& s = snap.state;
  s.model = small_spec({3, 2}, 3);
  snap.params = ramp(s.model.shape.num_params());
  s.batch_size = 8, s.seed = 12, s.epochs = 3, s.train_count = 32;
  s.step = 6, s.epoch = 1, s.step_in_epoch = 2, s.max_steps = 9;
  s.recipe.lr_schedule = LrSchedule::step;
  s.recipe.lr_step_epochs = 1, s.recipe.lr_gamma = 0.5, s.recipe.warmup_epochs = 0.5;
  s.recipe.clip_grad_norm = 5, s.recipe.early_stop = 2, s.recipe.preset = "quick";
  s.recipe.reg.dropout = {0.1f, 0.2f};
  s.recipe.reg.label_smoothing = 0.05f;
  s.recipe.augment.rotate_deg = 5, s.recipe.augment.elastic_alpha = 3;
  s.adam.step = 6;
  s.adam.m = ramp(snap.params.size());
  s.adam.v.assign(snap.params.size(), 0.01f);
  s.best = {0.5, 4, 1};
  s.history = {{1, 4, 1.2, 0.4, 1.1, 0.5, 0.3, 100, 0.1}};
  snap.run = {2, 1, "node1", "42", 1700000000};
  const std::string file = snapshot_encode(snap);
  put(out, "snapshot-4-3-2-3-file", checkpoint_input(kFile, file));
  put(out, "snapshot-4-3-2-3-payload", checkpoint_input(kPayload, checkpoint_file_decode(file, "seed").SerializeAsString()));
}

// ---- image ----

GrayImage mnist_digits(const std::string& mnist, int first, int n, bool dark_on_light) {
  const IdxArray a = idx_read(mnist + "/t10k-images-idx3-ubyte");
  GrayImage img;
  img.width = 28 * n, img.height = 28;
  img.pixels.resize(size_t(img.width) * 28);
  for (int k = 0; k < n; ++k)
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const uint8_t v = a.data[size_t(first + k) * 784 + size_t(y) * 28 + size_t(x)];
        img.pixels[size_t(y) * size_t(img.width) + size_t(28 * k + x)] = dark_on_light ? uint8_t(255 - v) : v;
      }
  return img;
}

// Nearest-neighbour resize (a long, thin strip makes preprocessing shrink, not enlarge).
GrayImage stretched(const GrayImage& img, int w, int h) {
  GrayImage out;
  out.width = w, out.height = h;
  out.pixels.resize(size_t(w) * size_t(h));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) out.pixels[size_t(y) * size_t(w) + size_t(x)] = img.at(x * img.width / w, y * img.height / h);
  return out;
}

std::string png_via_project(const GrayImage& img) {
  const std::string tmp = (fs::temp_directory_path() / ("digitnet-seed-" + std::to_string(::getpid()) + ".png")).string();
  image_write_png(tmp, img);
  std::string bytes = file_read_all(tmp, uint64_t(1) << 30, ErrorKind::data);
  fs::remove(tmp);
  return bytes;
}

// RGBA with a transparent margin: the reader composites it on white.
std::string png_rgba(const GrayImage& img) {
  std::vector<uint8_t> rgba(img.pixels.size() * 4);
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    const int x = int(i % size_t(img.width));
    rgba[4 * i] = img.pixels[i], rgba[4 * i + 1] = uint8_t(img.pixels[i] / 2), rgba[4 * i + 2] = 30;
    rgba[4 * i + 3] = x < 3 ? 0 : 255;
  }
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(img.width), png.height = png_uint_32(img.height);
  png.format = PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&png, nullptr, &size, 0, rgba.data(), 0, nullptr);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, rgba.data(), 0, nullptr)) return "";
  return bytes;
}

std::string jpeg(const GrayImage& img, bool colour) {
  std::vector<uint8_t> rgb;
  for (uint8_t v : img.pixels) rgb.insert(rgb.end(), {v, uint8_t(v / 2 + 60), uint8_t(255 - v / 3)});
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int rc = colour ? tjCompress2(tj, rgb.data(), img.width, 0, img.height, TJPF_RGB, &out, &size, TJSAMP_420, 75,
                                      TJFLAG_PROGRESSIVE)
                        : tjCompress2(tj, img.pixels.data(), img.width, 0, img.height, TJPF_GRAY, &out, &size, TJSAMP_GRAY,
                                      75, 0);
  std::string bytes = rc == 0 ? std::string(reinterpret_cast<char*>(out), size) : "";
  tjFree(out);
  tjDestroy(tj);
  return bytes;
}

// Leptonica writes the other formats, from an 8-bit gray pix (or 1-bit for TIFF G4).
std::string leptonica(const GrayImage& img, l_int32 format, bool binary) {
  PIX* pix = pixCreate(img.width, img.height, 8);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) pixSetPixel(pix, x, y, img.at(x, y));
  if (binary) {
    PIX* b = pixThresholdToBinary(pix, 128);
    pixDestroy(&pix);
    pix = b;
  }
  l_uint8* data = nullptr;
  size_t size = 0;
  const bool ok = pixWriteMem(&data, &size, pix, format) == 0;
  pixDestroy(&pix);
  std::string bytes = ok ? std::string(reinterpret_cast<char*>(data), size) : "";
  lept_free(data);
  return bytes;
}

void image_seeds(const fs::path& out, const std::string& mnist) {
  setMsgSeverity(L_SEVERITY_NONE);
  const GrayImage seven = mnist_digits(mnist, 0, 1, false), seven_paper = mnist_digits(mnist, 0, 1, true);
  const GrayImage number = mnist_digits(mnist, 1, 3, true);
  auto keep = [&](const std::string& name, const std::string& bytes) {
    if (bytes.empty())
      std::cerr << "fuzz_seeds: could not write " << name << ", left out\n";
    else
      put(out, name, bytes);
  };
  keep("mnist-7.png", png_via_project(seven));           // network format: passes through
  keep("paper-7.png", png_via_project(seven_paper));     // full preprocessing
  keep("paper-number.png", png_via_project(number));     // three digits
  keep("strip-600x20.png", png_via_project(stretched(number, 600, 20)));  // shrunk to the working size
  keep("rgba-7.png", png_rgba(seven_paper));
  keep("paper-7.jpg", jpeg(seven_paper, false));
  keep("colour-number.jpg", jpeg(number, true));
  keep("paper-7.bmp", leptonica(seven_paper, IFF_BMP, false));
  keep("paper-7.pgm", leptonica(seven_paper, IFF_PNM, false));
  keep("paper-7.tif", leptonica(seven_paper, IFF_TIFF, false));
  keep("paper-7-g4.tif", leptonica(seven_paper, IFF_TIFF_G4, true));
  keep("paper-7-1bit.png", leptonica(seven_paper, IFF_PNG, true));
  keep("paper-7.gif", leptonica(seven_paper, IFF_GIF, false));
  keep("paper-7.webp", leptonica(seven_paper, IFF_WEBP, false));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_seeds OUT MNIST_DIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    idx_seeds(out / "idx", argv[2]);
    checkpoint_seeds(out / "checkpoint");
    image_seeds(out / "image", argv[2]);
  } catch (const Error& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

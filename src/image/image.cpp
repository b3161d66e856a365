#include "digitnet/image/image.hpp"

#include <leptonica/allheaders.h>
#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "digitnet/core/error.hpp"
#include "digitnet/core/file_io.hpp"

namespace digitnet {

namespace {

constexpr uint64_t kMaxFileBytes = uint64_t(256) << 20;

[[noreturn]] void bad(const std::string& path, const std::string& what) { fail(ErrorKind::data, path + ": " + what); }

struct PixFree {
  void operator()(PIX* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<PIX, PixFree>;

// Leptonica reports problems on stderr; we report them ourselves, one line per file.
void silence_leptonica() {
  static const bool done = (setMsgSeverity(L_SEVERITY_NONE), true);
  (void)done;
}

const char* format_name(l_int32 format) {
  switch (format) {
    case IFF_PNG: return "PNG";
    case IFF_JFIF_JPEG: return "JPEG";
    case IFF_BMP: return "BMP";
    case IFF_PNM: return "PNM";
    case IFF_GIF: return "GIF";
    case IFF_WEBP: return "WebP";
    default: return L_FORMAT_IS_TIFF(format) ? "TIFF" : nullptr;
  }
}

GrayImage blank(int w, int h) {
  GrayImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(size_t(w) * size_t(h));
  return img;
}

void check_dimensions(const std::string& path, int64_t w, int64_t h) {
  if (w <= 0 || h <= 0) bad(path, "image has no pixels (" + std::to_string(w) + "x" + std::to_string(h) + ")");
  if (w * h > kMaxImagePixels)
    bad(path, "image too large: " + std::to_string(w) + "x" + std::to_string(h) + " pixels (limit " +
                  std::to_string(kMaxImagePixels / 1000000) + " megapixels)");
}

// PNG through libpng's simplified API: errors come back as messages, never on stderr.
GrayImage read_png(const std::string& path, const std::string& bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  struct Free {
    png_image* p;
    ~Free() { png_image_free(p); }
  } guard{&png};
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    bad(path, std::string("unreadable PNG header: ") + png.message);
  check_dimensions(path, png.width, png.height);
  png.format = PNG_FORMAT_GRAY;  // colour to luminance; transparency composited on the background below
  GrayImage img = blank(int(png.width), int(png.height));
  const png_color white{255, 255, 255};
  if (!png_image_finish_read(&png, &white, img.pixels.data(), 0, nullptr))
    bad(path, std::string("corrupt or truncated PNG data: ") + png.message);
  return img;
}

// JPEG through libjpeg-turbo's TurboJPEG API; warnings (a truncated file) are errors.
GrayImage read_jpeg(const std::string& path, const std::string& bytes) {
  tjhandle tj = tjInitDecompress();
  if (!tj) fail(ErrorKind::runtime, path + ": cannot start the JPEG decoder");
  struct Free {
    tjhandle h;
    ~Free() { tjDestroy(h); }
  } guard{tj};
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  int w = 0, h = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, data, (unsigned long)bytes.size(), &w, &h, &subsampling, &colorspace) != 0)
    bad(path, std::string("unreadable JPEG header: ") + tjGetErrorStr2(tj));
  if (w <= 0 || h <= 0) bad(path, "unreadable JPEG header (no frame size)");
  check_dimensions(path, w, h);
  GrayImage img = blank(w, h);
  if (tjDecompress2(tj, data, (unsigned long)bytes.size(), img.pixels.data(), w, 0, h, TJPF_GRAY,
                    TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
    bad(path, std::string("corrupt or truncated JPEG data: ") + tjGetErrorStr2(tj));
  return img;
}

// The other formats through Leptonica (its own BMP and PNM readers), header first.
GrayImage read_other(const std::string& path, const std::string& bytes, const std::string& kind) {
  silence_leptonica();
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
  if (pixReadHeaderMem(data, bytes.size(), &format, &w, &h, &bps, &spp, &cmap) != 0)
    bad(path, "unreadable " + kind + " header");
  check_dimensions(path, w, h);
  PixPtr pix(pixReadMem(data, bytes.size()));
  if (!pix) bad(path, "corrupt or truncated " + kind + " data");
  l_int32 pw = 0, ph = 0, depth = 0;
  pixGetDimensions(pix.get(), &pw, &ph, &depth);
  if (pw != w || ph != h) bad(path, "decoded size differs from its header");
  // Transparent areas become white paper; colour becomes luminance; any depth becomes 8 bits.
  if (depth == 32 && pixGetSpp(pix.get()) == 4) pix.reset(pixAlphaBlendUniform(pix.get(), 0xffffff00));
  if (pix) pix.reset(pixConvertTo8(pix.get(), 0));
  if (!pix) bad(path, "cannot convert to 8-bit gray");
  GrayImage img = blank(w, h);
  const l_uint32* row = pixGetData(pix.get());
  const l_int32 wpl = pixGetWpl(pix.get());
  for (int y = 0; y < h; ++y, row += wpl)
    for (int x = 0; x < w; ++x) img.pixels[size_t(y) * size_t(w) + size_t(x)] = uint8_t(GET_DATA_BYTE(row, x));
  return img;
}

}  // namespace

bool image_has_known_extension(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  static const char* const known[] = {"png", "jpg", "jpeg", "bmp", "pgm", "ppm", "pbm", "pnm",
                                      "tif", "tiff", "gif", "webp"};
  return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return ext == k; });
}

GrayImage image_read(const std::string& path) {
  return image_decode(file_read_all(path, kMaxFileBytes, ErrorKind::data), path);
}

GrayImage image_decode(const std::string& bytes, const std::string& path) {
  silence_leptonica();
  if (bytes.empty()) bad(path, "empty file");
  const auto* data = reinterpret_cast<const l_uint8*>(bytes.data());
  l_int32 format = IFF_UNKNOWN;
  if (bytes.size() < 12 || findFileFormatBuffer(data, &format) != 0 || !format_name(format))
    bad(path, "not an image (PNG, JPEG, BMP, PGM/PPM, TIFF, GIF or WebP)");
  if (format == IFF_PNG) return read_png(path, bytes);
  if (format == IFF_JFIF_JPEG) return read_jpeg(path, bytes);
  return read_other(path, bytes, format_name(format));
}

void image_write_png(const std::string& path, const GrayImage& img) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(img.width);
  png.height = png_uint_32(img.height);
  png.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, img.pixels.data(), 0, nullptr))
    fail(ErrorKind::runtime, path + ": PNG encoding failed: " + png.message);
  std::vector<uint8_t> encoded(size);
  if (!png_image_write_to_memory(&png, encoded.data(), &size, 0, img.pixels.data(), 0, nullptr))
    fail(ErrorKind::runtime, path + ": PNG encoding failed: " + png.message);
  file_write_atomic(path, encoded.data(), size);
}

}  // namespace digitnet

// MNIST-style preprocessing on digits the test draws itself: dark ink on light,
// uneven paper, any size, placement, pen and slight rotation must come out close
// to the same digit drawn MNIST-style; MNIST itself must survive unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "digitnet/core/error.hpp"
#include "digitnet/image/preprocess.hpp"
#include "mnist_fixture.hpp"

using namespace digitnet;

namespace {

struct Point {
  double x, y;
};
using Stroke = std::vector<Point>;  // a polyline, in a unit box (y down)
struct Glyph {
  char name;
  std::vector<Stroke> strokes;
};

Stroke ellipse(double cx, double cy, double rx, double ry) {
  Stroke s;
  for (int k = 0; k <= 24; ++k) s.push_back({cx + rx * std::cos(k * M_PI / 12), cy + ry * std::sin(k * M_PI / 12)});
  return s;
}

// Hand-drawn-like skeletons of six digits.
const std::vector<Glyph>& glyphs() {
  static const std::vector<Glyph> g = {
      {'0', {ellipse(0.5, 0.5, 0.3, 0.45)}},
      {'1', {{{0.35, 0.2}, {0.55, 0.05}, {0.55, 0.95}}}},
      {'2', {{{0.15, 0.25}, {0.3, 0.08}, {0.6, 0.05}, {0.82, 0.2}, {0.8, 0.4}, {0.15, 0.95}, {0.88, 0.95}}}},
      {'3', {{{0.2, 0.1}, {0.6, 0.05}, {0.8, 0.2}, {0.75, 0.4}, {0.45, 0.5}, {0.8, 0.6}, {0.82, 0.8}, {0.6, 0.95}, {0.18, 0.9}}}},
      {'4', {{{0.65, 0.95}, {0.65, 0.05}, {0.1, 0.65}, {0.9, 0.65}}}},
      {'7', {{{0.15, 0.08}, {0.85, 0.08}, {0.4, 0.95}}}},
  };
  return g;
}

double segment_distance(Point p, Point a, Point b) {
  const double dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0.0, 1.0) : 0.0;
  return std::hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
}

double glyph_distance(const Glyph& g, Point p) {
  double d = 1e9;
  for (const auto& s : g.strokes)
    for (size_t i = 0; i + 1 < s.size(); ++i) d = std::min(d, segment_distance(p, s[i], s[i + 1]));
  return d;
}

Point glyph_extent(const Glyph& g) {  // width and height of the skeleton
  double x0 = 1, x1 = 0, y0 = 1, y1 = 0;
  for (const auto& s : g.strokes)
    for (auto p : s) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  return {x1 - x0, y1 - y0};
}

// How a photo of the glyph looks: its skeleton `height` pixels tall, centred at
// (cx, cy), rotated, drawn with a round pen, on paper with a lighting gradient and noise.
struct Photo {
  int width = 200, height = 200;
  double digit_height = 120, cx = 100, cy = 100, pen = 8, degrees = 0;
  double paper = 225, gradient = 0, ink = 40, noise = 0;
  // A shadow: inside the ellipse centred at (shadow_x, shadow_y), radii shadow_rx
  // and shadow_ry, the light drops by the share `shadow`, over an edge about
  // shadow_soft pixels wide (a logistic step, as scripts/make_eval_images.py draws).
  double shadow = 0, shadow_x = 0, shadow_y = 0, shadow_rx = 1, shadow_ry = 1, shadow_soft = 1;
  unsigned seed = 1;
};

GrayImage draw_photo(const Glyph& g, const Photo& ph) {
  GrayImage img;
  img.width = ph.width;
  img.height = ph.height;
  img.pixels.resize(size_t(ph.width) * size_t(ph.height));
  std::mt19937 rng(ph.seed);
  std::normal_distribution<double> noise(0, ph.noise);
  const double c = std::cos(ph.degrees * M_PI / 180), s = std::sin(ph.degrees * M_PI / 180);
  const double unit = ph.digit_height;  // pixels per glyph unit
  for (int y = 0; y < ph.height; ++y)
    for (int x = 0; x < ph.width; ++x) {
      int covered = 0;  // 4x4 supersampling: anti-aliased edges like a camera's
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) {
          const double px = x + (sx + 0.5) / 4 - ph.cx, py = y + (sy + 0.5) / 4 - ph.cy;
          const Point q{(c * px + s * py) / unit + 0.5, (-s * px + c * py) / unit + 0.5};
          covered += glyph_distance(g, q) * unit <= ph.pen / 2;
        }
      const double paper = ph.paper + ph.gradient * (double(x) / ph.width - 0.5);
      double light = 1;
      if (ph.shadow > 0) {
        const double d = std::hypot((x - ph.shadow_x) / ph.shadow_rx, (y - ph.shadow_y) / ph.shadow_ry) - 1;
        light -= ph.shadow / (1 + std::exp(std::clamp(d * std::min(ph.shadow_rx, ph.shadow_ry) / ph.shadow_soft, -50.0, 50.0)));
      }
      const double v = (paper + (ph.ink - paper) * covered / 16.0) * light + noise(rng);
      img.pixels[size_t(y) * size_t(ph.width) + size_t(x)] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
  return img;
}

// The same glyph drawn the MNIST way, independently of preprocess.cpp: light ink
// on black, its ink (skeleton plus a 2.2-px pen) fitting a 20-px box, then shifted
// so that the centre of mass lands at (14, 14).
GrayImage draw_mnist_style(const Glyph& g) {
  constexpr double pen = 2.2;
  const Point e = glyph_extent(g);
  const double unit = (20 - pen) / std::max(e.x, e.y);
  std::vector<double> v(28 * 28, 0.0);
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      int covered = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) {
          const Point q{(x + (sx + 0.5) / 4 - 14) / unit + 0.5, (y + (sy + 0.5) / 4 - 14) / unit + 0.5};
          covered += glyph_distance(g, q) * unit <= pen / 2;
        }
      v[y * 28 + x] = covered / 16.0;
      mass += v[y * 28 + x], mx += v[y * 28 + x] * x, my += v[y * 28 + x] * y;
    }
  const int ox = int(std::lround(14 - mx / mass)), oy = int(std::lround(14 - my / mass));
  GrayImage img;
  img.width = img.height = 28;
  img.pixels.assign(28 * 28, 0);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const int tx = x + ox, ty = y + oy;
      if (tx >= 0 && ty >= 0 && tx < 28 && ty < 28) img.pixels[ty * 28 + tx] = uint8_t(std::lround(v[y * 28 + x] * 255));
    }
  return img;
}

// 1 - cosine similarity of the two images after a 3x3 box blur, at the best of
// the 9 one-pixel shifts: centring by mass rounds to whole pixels, and a
// symmetric digit sits exactly half-way. 0 for the same picture, about 0.25
// and more between different digits.
std::vector<double> blurred(const GrayImage& img, int shift_x, int shift_y) {
  std::vector<double> out(img.pixels.size(), 0.0);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx - shift_x, yy = y + dy - shift_y;
          if (xx >= 0 && yy >= 0 && xx < img.width && yy < img.height) out[size_t(y) * size_t(img.width) + size_t(x)] += img.at(xx, yy);
        }
  return out;
}

double distance(const GrayImage& a, const GrayImage& b) {
  const std::vector<double> v = blurred(b, 0, 0);
  double best = 1;
  for (int sy = -1; sy <= 1; ++sy)
    for (int sx = -1; sx <= 1; ++sx) {
      const std::vector<double> u = blurred(a, sx, sy);
      double uv = 0, uu = 0, vv = 0;
      for (size_t i = 0; i < u.size(); ++i) uv += u[i] * v[i], uu += u[i] * u[i], vv += v[i] * v[i];
      if (uu > 0 && vv > 0) best = std::min(best, 1 - uv / std::sqrt(uu * vv));
    }
  return best;
}

// Pixel distance to the MNIST-style rendering of its own glyph, and to the nearest other glyph.
struct Match {
  double own = 1, nearest_other = 1;
};
Match match(const GrayImage& seen, const Glyph& g) {
  Match m;
  for (const auto& other : glyphs()) {
    const double d = distance(seen, draw_mnist_style(other));
    if (other.name == g.name) {
      m.own = d;
    } else {
      m.nearest_other = std::min(m.nearest_other, d);
    }
  }
  return m;
}

// A photo comes out within this distance of the MNIST-style glyph (measured:
// at most 0.03 for the variations below; different glyphs are 0.21 or more apart).
constexpr double kClose = 0.07;

void expect_close(const Photo& ph, const std::string& what) {
  for (const auto& g : glyphs()) {
    const DigitImage seen = preprocess_digit(draw_photo(g, ph), PreprocessOptions{});
    const Match m = match(seen.pixels, g);
    std::printf("%-32s digit %c: distance %.3f, nearest other %.3f, stroke %.2f px%s\n", what.c_str(), g.name, m.own,
                m.nearest_other, seen.stroke_width, seen.stroke_redrawn ? " (redrawn)" : "");
    EXPECT_LT(m.own, kClose) << what << ", digit " << g.name << "\n" << image_text_art(seen.pixels);
    EXPECT_LT(m.own, m.nearest_other) << what << ", digit " << g.name;
    EXPECT_TRUE(seen.inverted) << what;
  }
}

}  // namespace

TEST(Preprocess, ReferenceGlyphsAreFarApart) {
  // The distance must be able to tell digits apart, or the tests below prove nothing.
  for (const auto& a : glyphs())
    for (const auto& b : glyphs())
      if (a.name != b.name) {
        EXPECT_GT(distance(draw_mnist_style(a), draw_mnist_style(b)), 2 * kClose) << a.name << b.name;
      }
}

TEST(Preprocess, PlainPhoto) { expect_close(Photo{}, "plain"); }

TEST(Preprocess, SizesAndPlacements) {
  Photo small;  // a small digit off-centre in a large image
  small.width = 640, small.height = 480, small.digit_height = 60, small.cx = 150, small.cy = 350, small.pen = 5;
  expect_close(small, "small, off-centre");
  Photo filling;  // a digit filling the frame
  filling.width = 120, filling.height = 150, filling.digit_height = 120, filling.cx = 60, filling.cy = 75, filling.pen = 9;
  expect_close(filling, "filling the image");
  Photo tiny;  // a low-resolution scan
  tiny.width = tiny.height = 40, tiny.digit_height = 28, tiny.cx = tiny.cy = 20, tiny.pen = 3;
  expect_close(tiny, "40x40 scan");
}

TEST(Preprocess, PenWidths) {
  Photo thin;  // a fine pen: 1.5 px on a 200-px digit would vanish when scaled down
  thin.digit_height = 200, thin.width = thin.height = 300, thin.cx = thin.cy = 150, thin.pen = 1.5;
  expect_close(thin, "thin pen");
  Photo marker;  // a marker: strokes 30% of the digit's height
  marker.pen = 36;
  expect_close(marker, "marker");
  const DigitImage t = preprocess_digit(draw_photo(glyphs()[2], thin), PreprocessOptions{});
  EXPECT_TRUE(t.stroke_redrawn);
  const DigitImage m = preprocess_digit(draw_photo(glyphs()[2], marker), PreprocessOptions{});
  EXPECT_TRUE(m.stroke_redrawn);
}

TEST(Preprocess, RotationNoiseAndUnevenLight) {
  for (double degrees : {-8.0, 8.0}) {
    Photo ph;
    ph.degrees = degrees;
    const Glyph& g = glyphs()[5];  // the 7
    const Match m = match(preprocess_digit(draw_photo(g, ph), PreprocessOptions{}).pixels, g);
    EXPECT_LT(m.own, m.nearest_other) << degrees << " degrees";
    EXPECT_LT(m.own, 2 * kClose) << degrees << " degrees";  // rotation is kept (MNIST is not deskewed)
  }
  Photo uneven;  // a shadow falls across the page, the sensor is noisy, contrast is low
  uneven.gradient = -120, uneven.paper = 200, uneven.ink = 70, uneven.noise = 12;
  expect_close(uneven, "gradient, noise, low contrast");
}

TEST(Preprocess, SteepLightOnADigitFillingTheFrame) {
  // A thick pen filling the frame, the light falling from 240 to 140 across the
  // page (ink 50). Flat paper at the border's median level, with the border's wide
  // spread taken for noise, let the ink pass for paper: the fit sank into the ink,
  // the paper became light ink (0 and 2 lost). A plane through the border first.
  Photo ph;
  ph.width = 120, ph.height = 150, ph.digit_height = 120, ph.cx = 60, ph.cy = 75;
  ph.pen = 14, ph.paper = 190, ph.gradient = -100, ph.ink = 50, ph.noise = 4;
  expect_close(ph, "steep light, filling the frame");
}

TEST(Preprocess, PageMostlyInShadow) {
  // A shadow covers all but a strip along the top: the lit strip stands above the
  // background fitted to the shadowed paper, and it outweighed the dark digit, so
  // the digit was taken for paper. The strip runs into the image's edge, the digit
  // does not.
  Photo ph;
  ph.width = 100, ph.height = 90, ph.digit_height = 40, ph.cx = 50, ph.cy = 55, ph.pen = 3, ph.noise = 3;
  ph.shadow = 0.5, ph.shadow_x = 50, ph.shadow_y = 400, ph.shadow_rx = 600, ph.shadow_ry = 380, ph.shadow_soft = 3;
  expect_close(ph, "page mostly in shadow");
}

TEST(Preprocess, SharpShadowAcrossTheDigit) {
  // A shadow that halves the light, its edge 3 pixels wide, runs down through the
  // right of the digit. The cubic cannot follow the edge; the cell background
  // smoothed it over and stopped at 40% of the ink, and the rest of the shadow
  // stayed as ink (0, 2 and 3 lost). An opening follows the edge.
  Photo ph;
  ph.noise = 3;
  ph.shadow = 0.5, ph.shadow_x = -40, ph.shadow_y = 120, ph.shadow_rx = 160, ph.shadow_ry = 200, ph.shadow_soft = 3;
  expect_close(ph, "sharp shadow across the digit");
}

TEST(Preprocess, SmallDigitBesideASoftShadow) {
  // A round shadow, its edge 6 pixels wide, beside a small digit drawn with a
  // 3-pixel pen. What the cubic leaves of the shadow passes for ink and widens the
  // mask's stroke width 2 x area / boundary to about 25 pixels, so the opening's
  // square grew to 75 and kept the shadow: the digit came out a small mark on a
  // blob. Measured across the strokes, from steep edge to steep edge, the width is
  // 7 (the blurred edges included).
  Photo ph;
  ph.width = ph.height = 120, ph.digit_height = 30, ph.cx = 80, ph.cy = 60, ph.pen = 3, ph.noise = 3;
  ph.shadow = 0.5, ph.shadow_x = 45, ph.shadow_y = 55, ph.shadow_rx = 35, ph.shadow_ry = 30, ph.shadow_soft = 6;
  expect_close(ph, "small digit beside a soft shadow");
}

TEST(Preprocess, LightInkOnDarkIsNotInverted) {
  Photo chalk;
  chalk.paper = 30, chalk.ink = 220;
  const DigitImage seen = preprocess_digit(draw_photo(glyphs()[4], chalk), PreprocessOptions{});
  EXPECT_FALSE(seen.inverted);
  EXPECT_LT(match(seen.pixels, glyphs()[4]).own, kClose);
}

TEST(Preprocess, SpecksAreDropped) {
  Photo ph;
  GrayImage img = draw_photo(glyphs()[1], ph);  // the 1, with dust in the corners
  for (auto [x, y] : {std::pair{10, 10}, {185, 20}, {15, 180}, {190, 190}})
    for (int dy = 0; dy < 3; ++dy)
      for (int dx = 0; dx < 3; ++dx) img.pixels[size_t(y + dy) * 200 + size_t(x + dx)] = 30;
  EXPECT_LT(match(preprocess_digit(img, PreprocessOptions{}).pixels, glyphs()[1]).own, kClose);
}

TEST(Preprocess, FarBlotsAreDropped) {
  // Blots too big to be specks next to a thin digit (each 8x8: a seventh of the
  // 1's ink) but far from it, near the corners: they widened the 1's box to the
  // whole page, and the 1 came out a small mark in the middle of it.
  for (const Glyph& g : {glyphs()[1], glyphs()[4]}) {
    Photo ph;
    ph.width = ph.height = 300, ph.cx = ph.cy = 150, ph.pen = 3;
    GrayImage img = draw_photo(g, ph);
    for (auto [x, y] : {std::pair{20, 20}, {270, 25}, {25, 268}, {272, 272}})
      for (int dy = 0; dy < 8; ++dy)
        for (int dx = 0; dx < 8; ++dx) img.pixels[size_t(y + dy) * 300 + size_t(x + dx)] = 40;
    const DigitImage seen = preprocess_digit(img, PreprocessOptions{});
    EXPECT_LT(match(seen.pixels, g).own, kClose) << g.name << "\n" << image_text_art(seen.pixels);
  }
}

TEST(Preprocess, BlankImagesAreRefused) {
  GrayImage paper;
  paper.width = paper.height = 100;
  paper.pixels.assign(100 * 100, 230);
  EXPECT_THROW(preprocess_digit(paper, PreprocessOptions{}), Error);
  std::mt19937 rng(3);  // paper grain only
  for (auto& p : paper.pixels) p = uint8_t(225 + rng() % 10);
  EXPECT_THROW(preprocess_digit(paper, PreprocessOptions{}), Error);
  EXPECT_THROW(preprocess_number(paper, PreprocessOptions{}), Error);
}

TEST(Preprocess, ModeNoneChecksTheSize) {
  PreprocessOptions none;
  none.mode = PreprocessMode::none;
  EXPECT_THROW(preprocess_digit(draw_photo(glyphs()[0], Photo{}), none), Error);
  EXPECT_THROW(preprocess_mode_parse("sometimes"), Error);
}

TEST(Preprocess, ReadsDigitsLeftToRight) {
  // 7, 4, 1, 0 side by side (the 4's pieces must stay one digit), dark on light.
  const std::vector<size_t> order = {5, 4, 1, 0};
  GrayImage strip;
  strip.width = 520, strip.height = 160;
  strip.pixels.assign(size_t(strip.width) * size_t(strip.height), 0);
  for (size_t k = 0; k < order.size(); ++k) {
    Photo ph;
    ph.width = 130, ph.height = 160, ph.cx = 65, ph.cy = 80, ph.digit_height = 110, ph.pen = 7, ph.seed = unsigned(k);
    const GrayImage one = draw_photo(glyphs()[order[k]], ph);
    for (int y = 0; y < 160; ++y)
      for (int x = 0; x < 130; ++x) strip.pixels[size_t(y) * 520 + k * 130 + size_t(x)] = one.at(x, y);
  }
  const std::vector<DigitImage> digits = preprocess_number(strip, PreprocessOptions{});
  ASSERT_EQ(digits.size(), order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const Match m = match(digits[k].pixels, glyphs()[order[k]]);
    EXPECT_LT(m.own, kClose) << "digit " << k;
    EXPECT_LT(m.own, m.nearest_other) << "digit " << k;
    if (k > 0) {
      EXPECT_GT(digits[k].x, digits[k - 1].x);
    }
  }
}

// ---- blurry low-resolution scans ----

// A low-resolution scan as optdigits made them, enlarged as a viewer does: the
// glyph drawn with a `pen`-wide stroke into a 32x32 bitmap, counted per 4x4 block
// (8x8 levels), enlarged bilinearly to `side` x `side`, dark ink on white.
GrayImage draw_blurry_scan(const Glyph& g, double pen, int side) {
  constexpr int kBitmap = 32, kScan = 8;
  std::vector<double> scan(kScan * kScan, 0.0);
  for (int y = 0; y < kBitmap; ++y)
    for (int x = 0; x < kBitmap; ++x) {
      const Point q{(x + 0.5) / kBitmap, (y + 0.5) / kBitmap};
      if (glyph_distance(g, {(q.x - 0.5) * 1.15 + 0.5, (q.y - 0.5) * 1.15 + 0.5}) * kBitmap <= pen / 2)
        scan[size_t(y / 4 * kScan + x / 4)] += 1.0 / 16;
    }
  auto at = [&](double u, double v) {  // bilinear, pixel centres aligned, edges clamped
    u = std::clamp(u, 0.0, kScan - 1.0), v = std::clamp(v, 0.0, kScan - 1.0);
    const int x0 = std::min(int(u), kScan - 2), y0 = std::min(int(v), kScan - 2);
    const double fx = u - x0, fy = v - y0;
    auto s = [&](int x, int y) { return scan[size_t(y * kScan + x)]; };
    return (1 - fy) * ((1 - fx) * s(x0, y0) + fx * s(x0 + 1, y0)) + fy * ((1 - fx) * s(x0, y0 + 1) + fx * s(x0 + 1, y0 + 1));
  };
  GrayImage img;
  img.width = img.height = side;
  img.pixels.resize(size_t(side) * size_t(side));
  const double k = double(kScan) / side;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      img.pixels[size_t(y) * size_t(side) + size_t(x)] = uint8_t(std::lround(255 * (1 - at((x + 0.5) * k - 0.5, (y + 0.5) * k - 0.5))));
  return img;
}

// Paper regions of the network's input (ink: level 96 and more) that the ink encloses.
std::vector<size_t> enclosed_holes(const GrayImage& img) {
  std::vector<int> seen(img.pixels.size(), 0);
  std::vector<size_t> holes;
  for (size_t start = 0; start < img.pixels.size(); ++start) {
    if (seen[start] || img.pixels[start] >= 96) continue;
    size_t area = 0;
    bool border = false;
    std::vector<size_t> stack = {start};
    seen[start] = 1;
    while (!stack.empty()) {
      const size_t i = stack.back();
      stack.pop_back();
      ++area;
      const int x = int(i % size_t(img.width)), y = int(i / size_t(img.width));
      border = border || x == 0 || y == 0 || x == img.width - 1 || y == img.height - 1;
      for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
        const int nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= img.width || ny >= img.height) continue;
        const size_t j = size_t(ny) * size_t(img.width) + size_t(nx);
        if (!seen[j] && img.pixels[j] < 96) seen[j] = 1, stack.push_back(j);
      }
    }
    if (!border) holes.push_back(area);
  }
  return holes;
}

const Glyph kNine = {'9', {ellipse(0.45, 0.3, 0.3, 0.25), {{0.75, 0.3}, {0.72, 0.6}, {0.6, 0.95}}}};

TEST(PreprocessBlurry, ThickBlurredLoopsStayOpenAndClosed) {
  // An enlarged 8x8 scan: strokes a quarter of the digit wide, no sharp edge. The
  // 0 must keep its hole (it was filled into a blob, or broken into a C), the 9
  // its loop (read as 3), and neither may be skeletonised.
  for (int side : {64, 96}) {
    for (const Glyph& g : {glyphs()[0], kNine}) {
      const DigitImage seen = preprocess_digit(draw_blurry_scan(g, 4.0, side), PreprocessOptions{});
      const std::vector<size_t> holes = enclosed_holes(seen.pixels);
      std::printf("blurry %c at %dx%d: stroke %.2f px, blurred %d, redrawn %d, %zu hole(s), largest %zu px\n", g.name, side,
                  side, seen.stroke_width, seen.blurred, seen.stroke_redrawn, holes.size(),
                  holes.empty() ? size_t(0) : *std::max_element(holes.begin(), holes.end()));
      EXPECT_TRUE(seen.inverted);
      EXPECT_TRUE(seen.blurred) << g.name << " at " << side;
      EXPECT_FALSE(seen.stroke_redrawn) << g.name << " at " << side;
      ASSERT_EQ(holes.size(), 1u) << g.name << " at " << side << "\n" << image_text_art(seen.pixels);
      EXPECT_GE(holes[0], 6u) << g.name << " at " << side << "\n" << image_text_art(seen.pixels);
    }
  }
  // The 0 is still nearest its own MNIST-style glyph.
  const Match m = match(preprocess_digit(draw_blurry_scan(glyphs()[0], 4.0, 64), PreprocessOptions{}).pixels, glyphs()[0]);
  EXPECT_LT(m.own, m.nearest_other);
}

TEST(PreprocessBlurry, SharpThickPenIsStillRedrawn) {
  // The blur rule must not catch a sharp marker: it is still redrawn at MNIST's width.
  Photo marker;
  marker.pen = 36;
  const DigitImage seen = preprocess_digit(draw_photo(glyphs()[0], marker), PreprocessOptions{});
  EXPECT_FALSE(seen.blurred);
  EXPECT_TRUE(seen.stroke_redrawn);
}

// ---- MNIST itself ----

TEST(PreprocessMnist, NetworkFormatPassesUnchanged) {
  const Dataset& ds = test::mnist("t10k");
  ASSERT_GT(ds.count, 0u);
  for (size_t i = 0; i < 1000; ++i) {
    GrayImage img;
    img.width = int(ds.cols), img.height = int(ds.rows);
    img.pixels.assign(ds.image(i), ds.image(i) + ds.features());
    const DigitImage seen = preprocess_digit(img, PreprocessOptions{});
    ASSERT_TRUE(seen.passed_through) << "MNIST test image " << i;
    ASSERT_EQ(seen.pixels.pixels, img.pixels) << "MNIST test image " << i;
  }
}

TEST(PreprocessMnist, FullPipelineKeepsMnistDigits) {
  // Forced through every step, an MNIST digit must stay what it was: the stroke
  // width target is MNIST's own (median), and few digits get redrawn.
  const Dataset& ds = test::mnist("t10k");
  ASSERT_GT(ds.count, 0u);
  PreprocessOptions full;
  full.mode = PreprocessMode::full;
  std::vector<double> widths, distances;
  size_t redrawn = 0;
  for (size_t i = 0; i < 1000; ++i) {
    GrayImage img;
    img.width = int(ds.cols), img.height = int(ds.rows);
    img.pixels.assign(ds.image(i), ds.image(i) + ds.features());
    const DigitImage seen = preprocess_digit(img, full);
    widths.push_back(seen.stroke_width);
    redrawn += seen.stroke_redrawn;
    distances.push_back(distance(seen.pixels, img));
  }
  std::sort(widths.begin(), widths.end());
  std::sort(distances.begin(), distances.end());
  const double median_width = widths[widths.size() / 2];
  std::printf("MNIST through the full pipeline: median stroke width %.2f px (p10 %.2f, p90 %.2f), %zu of 1000 "
              "redrawn, median distance %.3f\n", median_width, widths[100], widths[900], redrawn, distances[500]);
  EXPECT_NEAR(median_width, 2.2, 0.3);
  EXPECT_LT(redrawn, 100u);
  EXPECT_LT(distances[500], 0.05);
}

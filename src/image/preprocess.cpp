#include "digitnet/image/preprocess.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "digitnet/core/error.hpp"

namespace digitnet {

namespace {

// MNIST's geometry: a 20-pixel box in a 28-pixel frame; strokes about 2.2 pixels
// wide at the box size (MNIST's test digits forced through this pipeline measure
// a median of 2.12 with stroke_width_estimate; tests/test_preprocess.cpp).
constexpr double kBoxFraction = 20.0 / 28.0;
constexpr double kMnistStrokeWidth = 2.2;  // pixels at the box size
// Redraw only pens 1.5x thinner or thicker than MNIST's. Thick strokes of tiny
// scans and tiny digits are not redrawn: they are blur, and the skeleton of a
// blurred blob loses the loops (77.0% instead of 90.1% on the 8x8 scans of
// scripts/eval-images.sh, 92.6% instead of 93.2% on its photos).
constexpr double kStrokeTolerance = 1.5;
// Blurred strokes (an enlarged low-resolution scan; is_blurred) are told apart by
// their soft levels, whatever the image's size: over kBlurredShare of the confident
// ink below kSoftLevel of full ink. Thick ones keep their levels, trimmed below kBlurTrim.
constexpr float kSoftLevel = 0.75f, kBlurTrim = 0.2f;
constexpr double kBlurredShare = 0.3;
// Polarity: the parts of each tail clear of the image's edge decide when they come
// to 5% of the heavier tail (all of it otherwise).
constexpr double kClearTail = 0.05;
constexpr double kLocalSquareStrokes = 3;  // the local background's opening: a square 3 stroke widths wide
constexpr int kRenderScale = 4;            // redrawn strokes are drawn at 4x the box
constexpr int kMinWorkingSide = 128, kMaxWorkingSide = 512;
constexpr int kTinyScanSide = 48;   // images smaller than this: no local background, no thick-stroke redraw
constexpr int kTinyDigitSide = 24;  // digits smaller than this (image pixels): no thick-stroke redraw

// A gray image as floats; after step 3, ink is high and paper low.
struct Plane {
  int w = 0, h = 0;
  std::vector<float> v;
  Plane() = default;
  Plane(int width, int height, float fill = 0.f) : w(width), h(height), v(size_t(width) * size_t(height), fill) {}
  float& at(int x, int y) { return v[size_t(y) * size_t(w) + size_t(x)]; }
  float at(int x, int y) const { return v[size_t(y) * size_t(w) + size_t(x)]; }
};

struct Box {
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;  // inclusive
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
  bool empty() const { return x1 < x0; }
  void add(int x, int y) {
    if (empty()) {
      x0 = x1 = x;
      y0 = y1 = y;
      return;
    }
    x0 = std::min(x0, x);
    x1 = std::max(x1, x);
    y0 = std::min(y0, y);
    y1 = std::max(y1, y);
  }
  void add(const Box& o) {
    if (o.empty()) return;
    add(o.x0, o.y0);
    add(o.x1, o.y1);
  }
};

// Whether pixel (x, y) or one of its 8 neighbours (inside w x h) satisfies
// is(row-major index): the anti-aliased rim next to confident ink.
template <class Predicate>
bool any_neighbour(int x, int y, int w, int h, Predicate is) {
  for (int yy = std::max(0, y - 1); yy <= std::min(h - 1, y + 1); ++yy)
    for (int xx = std::max(0, x - 1); xx <= std::min(w - 1, x + 1); ++xx)
      if (is(size_t(yy) * size_t(w) + size_t(xx))) return true;
  return false;
}

[[noreturn]] void no_ink() { fail(ErrorKind::data, "no ink found (blank image, or no digit stands out from the paper)"); }

float median_of(std::vector<float> values) {
  if (values.empty()) return 0.f;
  auto mid = values.begin() + long(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  return *mid;
}

// ---- 1. gray, working resolution ----
Plane to_plane(const GrayImage& img) {
  Plane p(img.width, img.height);
  for (size_t i = 0; i < img.pixels.size(); ++i) p.v[i] = float(img.pixels[i]) / 255.f;
  return p;
}

// The paper's level, read off the image's border: a digit rarely covers the
// border, though it may cover most of the middle.
// Its noise is the border's median absolute deviation.
struct Paper {
  float level = 0, sigma = 0;
};
Paper border_paper(const Plane& p) {
  const int ring = std::max(1, std::min(p.w, p.h) / 16);
  std::vector<float> border;
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x)
      if (x < ring || y < ring || x >= p.w - ring || y >= p.h - ring) border.push_back(p.at(x, y));
  Paper paper;
  paper.level = median_of(border);
  for (float& b : border) b = std::abs(b - paper.level);
  paper.sigma = 1.4826f * median_of(border);
  return paper;
}

// ---- resampling: area-averaging to shrink, bilinear to enlarge ----
// Area-averaging: each output pixel is the mean of the input area it covers,
// with fractional weights at the edges (what MNIST's anti-aliased scaling does).
std::vector<std::pair<int, float>> area_weights(int src, int dst, int out) {
  const double scale = double(src) / dst, a = out * scale, b = (out + 1) * scale;
  std::vector<std::pair<int, float>> w;
  for (int i = int(std::floor(a)); i < int(std::ceil(b)) && i < src; ++i) {
    const double cover = std::min(b, double(i + 1)) - std::max(a, double(i));
    if (cover > 0) w.emplace_back(i, float(cover / scale));
  }
  return w;
}

std::vector<std::pair<int, float>> bilinear_weights(int src, int dst, int out) {
  const double s = std::clamp((out + 0.5) * double(src) / dst - 0.5, 0.0, double(src - 1));
  const int i = std::min(int(s), src - 1);
  const float f = float(s - i);
  if (i + 1 >= src || f == 0.f) return {{i, 1.f}};
  return {{i, 1.f - f}, {i + 1, f}};
}

Plane resample(const Plane& src, int nw, int nh) {
  nw = std::max(nw, 1);
  nh = std::max(nh, 1);
  auto weights = [](int s, int d, int o) { return d <= s ? area_weights(s, d, o) : bilinear_weights(s, d, o); };
  Plane tmp(nw, src.h);  // separable: rows first, then columns
  for (int x = 0; x < nw; ++x) {
    const auto wx = weights(src.w, nw, x);
    for (int y = 0; y < src.h; ++y) {
      float sum = 0;
      for (auto [i, w] : wx) sum += w * src.at(i, y);
      tmp.at(x, y) = sum;
    }
  }
  Plane out(nw, nh);
  for (int y = 0; y < nh; ++y) {
    const auto wy = weights(src.h, nh, y);
    for (int x = 0; x < nw; ++x) {
      float sum = 0;
      for (auto [i, w] : wy) sum += w * tmp.at(x, i);
      out.at(x, y) = sum;
    }
  }
  return out;
}

Plane resize_longest_side(const Plane& p, int longest) {
  const double f = double(longest) / std::max(p.w, p.h);
  return resample(p, std::max(1, int(std::lround(p.w * f))), std::max(1, int(std::lround(p.h * f))));
}

// working resolution: enough pixels for the stroke work, few enough to be quick
Plane to_working_resolution(const Plane& p) {
  const int longest = std::max(p.w, p.h);
  if (longest > kMaxWorkingSide) return resize_longest_side(p, kMaxWorkingSide);
  if (longest < kMinWorkingSide) return resize_longest_side(p, kMinWorkingSide);
  return p;
}

// ---- 2. background: a cubic surface fitted to the paper ----
// Least squares over a grid of samples, refitted a few times without the
// samples that lie well above the surface (ink), so the ink does not lift it.
constexpr int kBasis = 10;
std::array<double, kBasis> cubic_basis(double u, double v) {
  return {1, u, v, u * u, u * v, v * v, u * u * u, u * u * v, u * v * v, v * v * v};
}

bool solve(std::array<double, kBasis * kBasis> a, std::array<double, kBasis>& b) {
  for (int c = 0; c < kBasis; ++c) {  // Gaussian elimination, partial pivoting
    int pivot = c;
    for (int r = c + 1; r < kBasis; ++r)
      if (std::abs(a[r * kBasis + c]) > std::abs(a[pivot * kBasis + c])) pivot = r;
    if (std::abs(a[pivot * kBasis + c]) < 1e-12) return false;
    for (int k = 0; k < kBasis; ++k) std::swap(a[c * kBasis + k], a[pivot * kBasis + k]);
    std::swap(b[c], b[pivot]);
    for (int r = c + 1; r < kBasis; ++r) {
      const double f = a[r * kBasis + c] / a[c * kBasis + c];
      for (int k = c; k < kBasis; ++k) a[r * kBasis + k] -= f * a[c * kBasis + k];
      b[r] -= f * b[c];
    }
  }
  for (int c = kBasis - 1; c >= 0; --c) {
    for (int k = c + 1; k < kBasis; ++k) b[c] -= a[c * kBasis + k] * b[k];
    b[c] /= a[c * kBasis + c];
  }
  return true;
}

Plane subtract_background(const Plane& p, Paper& paper) {
  const int stride = std::max(1, std::max(p.w, p.h) / 96);
  auto u_of = [&](int x) { return p.w > 1 ? 2.0 * x / (p.w - 1) - 1 : 0.0; };
  auto v_of = [&](int y) { return p.h > 1 ? 2.0 * y / (p.h - 1) - 1 : 0.0; };
  struct Sample {
    std::array<double, kBasis> phi;
    double value;
    bool border, paper;
  };
  const int ring = std::max(1, std::min(p.w, p.h) / 16);  // as border_paper's
  std::vector<Sample> samples;
  for (int y = stride / 2; y < p.h; y += stride)
    for (int x = stride / 2; x < p.w; x += stride) {
      const bool border = x < ring || y < ring || x >= p.w - ring || y >= p.h - ring;
      samples.push_back({cubic_basis(u_of(x), v_of(y)), p.at(x, y), border, true});
    }

  std::array<double, kBasis> coef{};
  coef[0] = paper.level;
  auto fit_at = [&](const Sample& s) {
    double fit = 0;
    for (int i = 0; i < kBasis; ++i) fit += coef[i] * s.phi[i];
    return fit;
  };
  // Rounds of: classify the samples (paper: within 2.5 noise deviations of the
  // surface; ink of either polarity lies further out), refit the first `terms`
  // basis functions to the paper, take the paper's median deviation as its noise.
  double sigma = paper.sigma;
  auto refine = [&](int terms, bool border_only, int rounds) {
    for (int round = 0; round < rounds; ++round) {
      for (auto& s : samples)
        s.paper = (s.border || !border_only) && std::abs(s.value - fit_at(s)) < std::max(2.5 * sigma, 0.02);
      std::array<double, kBasis * kBasis> ata{};
      std::array<double, kBasis> atb{};
      for (const auto& s : samples) {
        if (!s.paper) continue;
        for (int i = 0; i < terms; ++i) {
          atb[i] += s.phi[i] * s.value;
          for (int j = 0; j < terms; ++j) ata[i * kBasis + j] += s.phi[i] * s.phi[j];
        }
      }
      // 1e-6 keeps tiny images solvable; the unused terms are pinned at 0.
      for (int i = 0; i < kBasis; ++i) ata[i * kBasis + i] += i < terms ? 1e-6 : 1.0;
      if (!solve(ata, atb)) break;
      coef = atb;
      std::vector<float> deviations;
      for (const auto& s : samples)
        if (s.paper) deviations.push_back(float(std::abs(s.value - fit_at(s))));
      sigma = std::max(1.4826 * median_of(deviations), 0.005);
    }
  };
  // First a plane through the border, which is mostly paper and shows the
  // lighting's slope. Flat paper at the border's median level with the border's
  // spread as its noise would take a steep gradient for noise, and then a digit
  // filling the frame for paper. Then the cubic over the whole image.
  refine(3, true, 4);
  refine(kBasis, false, 6);
  paper.sigma = float(sigma);
  Plane r(p.w, p.h);
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x) {
      const auto phi = cubic_basis(u_of(x), v_of(y));
      double fit = 0;
      for (int i = 0; i < kBasis; ++i) fit += coef[i] * phi[i];
      r.at(x, y) = float(p.at(x, y) - fit);
    }
  return r;
}

// ---- connected components (steps 3 and 6) ----
struct Component {
  int label = 0;
  size_t area = 0;
  Box box;
};

// 8-connected components of the mask; labels[i] = 1-based component, 0 = paper.
std::vector<Component> components(const std::vector<uint8_t>& mask, int w, int h, std::vector<int>& labels) {
  labels.assign(mask.size(), 0);
  std::vector<Component> out;
  std::vector<std::pair<int, int>> stack;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(y) * size_t(w) + size_t(x);
      if (!mask[i] || labels[i]) continue;
      Component c;
      c.label = int(out.size()) + 1;
      labels[i] = c.label;
      stack.assign(1, {x, y});
      while (!stack.empty()) {
        auto [cx, cy] = stack.back();
        stack.pop_back();
        ++c.area;
        c.box.add(cx, cy);
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = cx + dx, ny = cy + dy;
            if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
            const size_t j = size_t(ny) * size_t(w) + size_t(nx);
            if (mask[j] && !labels[j]) {
              labels[j] = c.label;
              stack.emplace_back(nx, ny);
            }
          }
      }
      out.push_back(c);
    }
  return out;
}

bool touches_edge(const Component& c, int w, int h) { return c.box.x0 == 0 || c.box.y0 == 0 || c.box.x1 == w - 1 || c.box.y1 == h - 1; }

// ---- 3. ink polarity ----
// Ink is the heavy tail of the residual: far below the paper (dark ink on light
// paper, the usual photo) or far above it (chalk, MNIST). Dark ink is flipped
// so that ink is high, as in MNIST. A digit stands clear of the image's edge,
// while a shadow, or the lit strip of a page that lies mostly in shadow, runs
// into it. So the tail parts clear of the edge decide when they amount to
// something (kClearTail of the heavier tail); otherwise, as in a tightly
// cropped scan, the whole tails do.
struct Tail {
  double all = 0, clear = 0;  // beyond 4 noise deviations; clear: in parts that do not touch the edge
};
Tail tail_of(const Plane& residual, float sign, float sigma) {
  std::vector<uint8_t> mask(residual.v.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = sign * residual.v[i] > 4 * sigma;
  std::vector<int> labels;
  const auto parts = components(mask, residual.w, residual.h, labels);
  std::vector<double> mass(parts.size() + 1, 0.0);
  for (size_t i = 0; i < mask.size(); ++i)
    if (labels[i]) mass[size_t(labels[i])] += sign * residual.v[i] - 4 * sigma;
  Tail t;
  for (const auto& c : parts) {
    t.all += mass[size_t(c.label)];
    if (!touches_edge(c, residual.w, residual.h)) t.clear += mass[size_t(c.label)];
  }
  return t;
}

bool flip_dark_ink(Plane& residual, float sigma) {
  const Tail dark = tail_of(residual, -1.f, sigma), light = tail_of(residual, 1.f, sigma);
  const bool clear = std::max(dark.clear, light.clear) >= kClearTail * std::max(dark.all, light.all);
  if (clear ? dark.clear <= light.clear : dark.all <= light.all) return false;
  for (float& r : residual.v) r = -r;
  return true;
}

// ---- 4. local background: what the smooth surface missed ----
// Mean of each pixel's 3x3 neighbourhood (inside the image).
Plane box3(const Plane& p) {
  Plane out(p.w, p.h);
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x) {
      float sum = 0;
      int n = 0;
      for (int yy = std::max(0, y - 1); yy <= std::min(p.h - 1, y + 1); ++yy)
        for (int xx = std::max(0, x - 1); xx <= std::min(p.w - 1, x + 1); ++xx) sum += p.at(xx, yy), ++n;
      out.at(x, y) = sum / float(n);
    }
  return out;
}

// The minimum (or maximum) over the (2 * radius + 1)-pixel square around each
// pixel, rows then columns; a monotonic queue keeps it linear in the pixels.
Plane square_extreme(const Plane& p, int radius, bool maximum) {
  auto pass = [&](const Plane& in, bool along_rows) {
    Plane out(in.w, in.h);
    const int lines = along_rows ? in.h : in.w, length = along_rows ? in.w : in.h;
    std::vector<int> queue(static_cast<size_t>(length));
    for (int line = 0; line < lines; ++line) {
      auto at = [&](int i) { return along_rows ? in.at(i, line) : in.at(line, i); };
      auto beats = [&](float a, float b) { return maximum ? a >= b : a <= b; };
      int head = 0, tail = 0, next = 0;
      for (int i = 0; i < length; ++i) {
        for (; next < length && next <= i + radius; ++next) {
          while (tail > head && beats(at(next), at(queue[size_t(tail - 1)]))) --tail;
          queue[size_t(tail++)] = next;
        }
        while (queue[size_t(head)] < i - radius) ++head;
        (along_rows ? out.at(i, line) : out.at(line, i)) = at(queue[size_t(head)]);
      }
    }
    return out;
  };
  return pass(pass(p, true), false);
}

// Shadows and vignetting with sharper edges than a cubic can follow, taken away
// by a grey-level opening: the minimum over a square of `side` pixels, then the
// maximum over the same square. Ink (a stroke narrower than the square) vanishes
// from it; a shadow's edge, a step or a ramp, stays as it is, however sharp, and
// so is subtracted. The 3x3 mean first keeps the minimum from following the
// noise down. Only positive (ink-like) background is removed.
void subtract_local_background(Plane& r, int side) {
  const int radius = std::max(1, side / 2);
  const Plane background = square_extreme(square_extreme(box3(r), radius, false), radius, true);
  for (size_t i = 0; i < r.v.size(); ++i) r.v[i] -= std::max(background.v[i], 0.f);
}

// ---- 5. threshold, keeping anti-aliased ink levels ----
struct Ink {
  Plane level;                // 0 = paper, 1 = full ink (anti-aliased edges in between)
  std::vector<uint8_t> mask;  // confidently ink
};

// Where ink starts: well above the paper's noise and a fair share of the typical
// full-ink contrast. ink = 0 when nothing stands out.
struct InkLevels {
  float ink = 0, threshold = 0;
};
InkLevels ink_levels(const Plane& residual) {
  // Paper noise: the residuals under the surface (ink is above), but never more
  // than the pixel noise itself (from neighbour differences, blind to smooth light).
  std::vector<float> below, steps;
  for (float r : residual.v)
    if (r < 0) below.push_back(-r);
  for (int y = 0; y < residual.h; ++y)
    for (int x = 0; x + 1 < residual.w; ++x) steps.push_back(std::abs(residual.at(x + 1, y) - residual.at(x, y)));
  const float sigma = std::min(1.4826f * median_of(below), 1.4826f * median_of(steps) / std::sqrt(2.f));
  std::vector<float> strong;
  for (float r : residual.v)
    if (r > std::max(5 * sigma, 0.05f)) strong.push_back(r);
  if (strong.size() < 4) return {};
  auto p90 = strong.begin() + long(strong.size() * 9 / 10);
  std::nth_element(strong.begin(), p90, strong.end());
  const float ink = *p90;  // typical full-ink contrast
  if (ink < 0.1f) return {};
  return {ink, std::max({5 * sigma, 0.35f * ink, 0.04f})};
}

Ink find_ink(const Plane& residual) {
  const auto [ink, threshold] = ink_levels(residual);
  if (ink <= 0) no_ink();
  Ink out{Plane(residual.w, residual.h), std::vector<uint8_t>(residual.v.size(), 0)};
  for (size_t i = 0; i < residual.v.size(); ++i) out.mask[i] = residual.v[i] > threshold;
  // Levels survive next to confident ink (the anti-aliased rim) and are zero elsewhere.
  for (int y = 0; y < residual.h; ++y)
    for (int x = 0; x < residual.w; ++x) {
      const bool near = any_neighbour(x, y, residual.w, residual.h, [&](size_t i) { return out.mask[i] != 0; });
      if (near) out.level.at(x, y) = std::clamp(residual.at(x, y) / ink, 0.f, 1.f);
    }
  return out;
}

// ---- 6. edge shadows and specks ----
double box_gap(const Box& a, const Box& b) {
  const int dx = std::max({0, a.x0 - b.x1, b.x0 - a.x1});
  const int dy = std::max({0, a.y0 - b.y1, b.y0 - a.y1});
  return std::hypot(double(dx), double(dy));
}

// Keeps components that are big, or smaller but close to a big one (the
// detached bar of a 5, a broken stroke); drops specks of dust and paper grain.
// Shadows and the dark corners of a photo reach the image's edge; a digit in the
// picture does not. So when some ink stands clear of the edge, ink touching the
// edge is dropped. (Scans cropped tightly touch the edge everywhere and keep it all.)
std::vector<Component> drop_edge_shadows(const std::vector<Component>& all, int w, int h) {
  const double significant = 0.002 * double(w) * double(h);
  const bool clear_ink = std::any_of(all.begin(), all.end(), [&](const Component& c) { return !touches_edge(c, w, h) && double(c.area) >= significant; });
  if (!clear_ink) return all;
  std::vector<Component> kept;
  for (const auto& c : all)
    if (!touches_edge(c, w, h)) kept.push_back(c);
  return kept;
}

std::vector<Component> drop_specks(const std::vector<Component>& all) {
  if (all.empty()) no_ink();
  size_t largest = 0;
  for (const auto& c : all) largest = std::max(largest, c.area);
  std::vector<Component> big, kept;
  for (const auto& c : all)
    if (double(c.area) >= 0.1 * double(largest)) big.push_back(c);
  kept = big;
  for (const auto& c : all) {
    if (double(c.area) >= 0.1 * double(largest) || double(c.area) < 0.02 * double(largest)) continue;
    for (const auto& b : big)
      if (box_gap(c.box, b.box) <= 0.25 * std::max(b.box.width(), b.box.height())) {
        kept.push_back(c);
        break;
      }
  }
  return kept;
}

// One digit is one group of parts: grown from the largest part, a part joins when
// it lies within half the group's size (the longer side of its box) of the group.
// Ink farther away, dust or a mark elsewhere on the page, is left out; it would
// widen the digit's box and shrink the digit. (--read keeps every part: the
// others are the other digits.)
std::vector<Component> one_digit(const std::vector<Component>& all) {
  if (all.empty()) no_ink();
  const auto largest = std::max_element(all.begin(), all.end(), [](const Component& a, const Component& b) { return a.area < b.area; });
  std::vector<bool> in(all.size(), false);
  in[size_t(largest - all.begin())] = true;
  Box group = largest->box;
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t i = 0; i < all.size(); ++i)
      if (!in[i] && box_gap(all[i].box, group) <= 0.5 * std::max(group.width(), group.height())) {
        in[i] = grew = true;
        group.add(all[i].box);
      }
  }
  std::vector<Component> kept;
  for (size_t i = 0; i < all.size(); ++i)
    if (in[i]) kept.push_back(all[i]);
  return kept;
}

// One digit's ink, cropped: its levels (with the anti-aliased rim) and its
// confident-ink mask (1 on the digit's own components).
struct DigitInk {
  Plane level, mask;
};

DigitInk cut_out(const Ink& ink, const std::vector<int>& labels, const std::vector<Component>& parts, Box box) {
  int max_label = 0;
  for (const auto& c : parts) max_label = std::max(max_label, c.label);
  std::vector<bool> keep_label(size_t(max_label) + 1, false);
  for (const auto& c : parts) keep_label[size_t(c.label)] = true;
  auto ours = [&](int l) { return l > 0 && l <= max_label && keep_label[size_t(l)]; };
  const int w = ink.level.w, h = ink.level.h;
  box.x0 = std::max(box.x0 - 1, 0);
  box.y0 = std::max(box.y0 - 1, 0);
  box.x1 = std::min(box.x1 + 1, w - 1);
  box.y1 = std::min(box.y1 + 1, h - 1);
  DigitInk out{Plane(box.width(), box.height()), Plane(box.width(), box.height())};
  for (int y = box.y0; y <= box.y1; ++y)
    for (int x = box.x0; x <= box.x1; ++x) {
      const bool near = any_neighbour(x, y, w, h, [&](size_t i) { return ours(labels[i]); });
      if (near) out.level.at(x - box.x0, y - box.y0) = ink.level.at(x, y);
      if (ours(labels[size_t(y) * size_t(w) + size_t(x)])) out.mask.at(x - box.x0, y - box.y0) = 1.f;
    }
  return out;
}

// ---- 8. stroke width ----
std::vector<uint8_t> binary(const Plane& p) {
  std::vector<uint8_t> b(p.v.size());
  for (size_t i = 0; i < b.size(); ++i) b[i] = p.v[i] > 0.5f;
  return b;
}

// Zhang-Suen thinning: peels boundary pixels until one-pixel-wide lines remain.
void thin(std::vector<uint8_t>& b, int w, int h) {
  auto px = [&](int x, int y) -> int { return x >= 0 && y >= 0 && x < w && y < h && b[size_t(y) * size_t(w) + size_t(x)]; };
  std::vector<size_t> remove;
  for (bool changed = true; changed;) {
    changed = false;
    for (int pass = 0; pass < 2; ++pass) {
      remove.clear();
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          if (!px(x, y)) continue;
          // Neighbours clockwise from north: p2..p9.
          const int n[8] = {px(x, y - 1), px(x + 1, y - 1), px(x + 1, y), px(x + 1, y + 1),
                            px(x, y + 1), px(x - 1, y + 1), px(x - 1, y), px(x - 1, y - 1)};
          int count = 0, transitions = 0;
          for (int k = 0; k < 8; ++k) {
            count += n[k];
            transitions += !n[k] && n[(k + 1) % 8];
          }
          if (count < 2 || count > 6 || transitions != 1) continue;
          const bool ok = pass == 0 ? (!(n[0] && n[2] && n[4]) && !(n[2] && n[4] && n[6]))
                                    : (!(n[0] && n[2] && n[6]) && !(n[0] && n[4] && n[6]));
          if (ok) remove.push_back(size_t(y) * size_t(w) + size_t(x));
        }
      for (size_t i : remove) b[i] = 0;
      changed = changed || !remove.empty();
    }
  }
}

// Redraws the skeleton of a binary shape with a round pen, `scale` times larger:
// every pair of neighbouring skeleton pixels becomes a capsule of the pen's width.
Plane redraw_strokes(const Plane& shape, double scale, double pen_width) {
  std::vector<uint8_t> skeleton = binary(shape);
  thin(skeleton, shape.w, shape.h);
  const double r = pen_width / 2;
  const int pad = int(std::ceil(r)) + 1;
  Plane out(int(std::ceil(shape.w * scale)) + 2 * pad, int(std::ceil(shape.h * scale)) + 2 * pad);
  auto stamp = [&](double cx, double cy) {
    for (int y = std::max(0, int(cy - r)); y <= std::min(out.h - 1, int(cy + r) + 1); ++y)
      for (int x = std::max(0, int(cx - r)); x <= std::min(out.w - 1, int(cx + r) + 1); ++x)
        if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= r * r) out.at(x, y) = 1.f;
  };
  auto on = [&](int x, int y) { return x >= 0 && y >= 0 && x < shape.w && y < shape.h && skeleton[size_t(y) * size_t(shape.w) + size_t(x)]; };
  for (int y = 0; y < shape.h; ++y)
    for (int x = 0; x < shape.w; ++x) {
      if (!on(x, y)) continue;
      const double ax = (x + 0.5) * scale + pad, ay = (y + 0.5) * scale + pad;
      stamp(ax, ay);
      for (auto [dx, dy] : {std::pair{1, 0}, {0, 1}, {1, 1}, {-1, 1}}) {  // each neighbour pair once
        if (!on(x + dx, y + dy)) continue;
        const int steps = int(std::ceil(scale * std::hypot(dx, dy)));
        for (int k = 1; k < steps; ++k) stamp(ax + dx * scale * k / steps, ay + dy * scale * k / steps);
      }
    }
  return out;
}

Plane crop_to_ink(const Plane& p) {
  Box box;
  for (int y = 0; y < p.h; ++y)
    for (int x = 0; x < p.w; ++x)
      if (p.at(x, y) > 0.f) box.add(x, y);
  if (box.empty()) no_ink();
  Plane out(box.width(), box.height());
  for (int y = 0; y < out.h; ++y)
    for (int x = 0; x < out.w; ++x) out.at(x, y) = p.at(x + box.x0, y + box.y0);
  return out;
}

// Holes in the shape smaller than 1% of its area become ink (loops of 0, 6, 8, 9 are far larger).
Plane fill_pinholes(const Plane& mask) {
  std::vector<uint8_t> paper(mask.v.size());
  size_t area = 0;
  for (size_t i = 0; i < paper.size(); ++i) {
    paper[i] = mask.v[i] <= 0.5f;
    area += !paper[i];
  }
  std::vector<int> labels;
  Plane filled = mask;
  for (const auto& hole : components(paper, mask.w, mask.h, labels)) {
    const bool enclosed = hole.box.x0 > 0 && hole.box.y0 > 0 && hole.box.x1 < mask.w - 1 && hole.box.y1 < mask.h - 1;
    if (!enclosed || double(hole.area) >= 0.01 * double(area)) continue;
    for (int y = hole.box.y0; y <= hole.box.y1; ++y)
      for (int x = hole.box.x0; x <= hole.box.x1; ++x)
        if (labels[size_t(y) * size_t(mask.w) + size_t(x)] == hole.label) filled.at(x, y) = 1.f;
  }
  return filled;
}

// The digit's own full-ink level becomes 1: a darker smudge elsewhere in the
// photo must not make this digit faint.
Plane normalise_ink(const DigitInk& ink) {
  std::vector<float> levels;
  for (size_t i = 0; i < ink.mask.v.size(); ++i)
    if (ink.mask.v[i] > 0.5f) levels.push_back(ink.level.v[i]);
  if (levels.empty()) no_ink();
  auto p90 = levels.begin() + long(levels.size() * 9 / 10);
  std::nth_element(levels.begin(), p90, levels.end());
  Plane out = ink.level;
  for (float& v : out.v) v = std::min(1.f, v / std::max(*p90, 1e-3f));
  return out;
}

// Blurred ink: more than 30% of the confident ink is below 75% of full ink. A
// sharp stroke is full ink but for its one-pixel rim; an enlarged low-resolution
// scan or an out-of-focus photo ramps up and down across the whole stroke.
bool is_blurred(const DigitInk& ink) {
  const Plane levels = normalise_ink(ink);
  size_t soft = 0, inside = 0;
  for (size_t i = 0; i < levels.v.size(); ++i)
    if (ink.mask.v[i] > 0.5f) ++inside, soft += levels.v[i] < kSoftLevel;
  return inside && double(soft) > kBlurredShare * double(inside);
}

// Thick blurred strokes are not redrawn from their skeleton: the mask of a blur
// fills the loops of 0, 6, 8 and 9, and a higher cut breaks faint strokes. Only
// the faint outer blur is trimmed, which thins the stroke and keeps the loops.
Plane trim_blur(Plane levels) {
  for (float& v : levels.v) v = std::clamp((v - kBlurTrim) / (1.f - kBlurTrim), 0.f, 1.f);
  return levels;
}

// ---- 7-10: from the cut-out ink of one digit to the network's input ----
DigitImage to_network_input(const DigitInk& ink, bool tiny_scan, double scale, const PreprocessOptions& opts) {
  const int box = std::max(1, int(std::lround(kBoxFraction * std::min(opts.rows, opts.cols))));
  DigitImage out;
  // A digit only a few pixels tall in its image is as blurred as a tiny scan.
  const bool tiny = tiny_scan || std::max(ink.mask.w, ink.mask.h) / scale < kTinyDigitSide;
  // Stroke width at the box size, measured on the confident ink at working
  // resolution, with pinholes (paper grain, JPEG noise) filled first: their
  // edges would count as stroke boundary and halve the estimate.
  const double to_box = double(box) / std::max(ink.mask.w, ink.mask.h);
  out.stroke_width = stroke_width_estimate(fill_pinholes(ink.mask).v, ink.mask.w, ink.mask.h) * to_box;
  const double target = kMnistStrokeWidth * box / 20.0;
  out.blurred = is_blurred(ink);
  const bool thick = out.stroke_width > target * kStrokeTolerance;
  Plane small;
  if ((thick && !tiny && !out.blurred) || out.stroke_width < target / kStrokeTolerance) {
    // Redrawn at 4x the box and shrunk by area-averaging, so the new pen is anti-aliased too.
    const double render_scale = to_box * kRenderScale;
    small = resize_longest_side(crop_to_ink(redraw_strokes(ink.mask, render_scale, target * kRenderScale)), box);
    out.stroke_redrawn = true;
  } else if (thick && out.blurred) {
    small = resize_longest_side(crop_to_ink(trim_blur(normalise_ink(ink))), box);
  } else {
    small = resize_longest_side(crop_to_ink(normalise_ink(ink)), box);
  }

  // Centre of mass to the centre of the frame (MNIST's mean is (14.0, 14.0) for 28x28).
  double mass = 0, mx = 0, my = 0;
  for (int y = 0; y < small.h; ++y)
    for (int x = 0; x < small.w; ++x) {
      mass += small.at(x, y);
      mx += small.at(x, y) * x;
      my += small.at(x, y) * y;
    }
  if (mass <= 0) no_ink();
  const int ox = int(std::lround(opts.cols / 2.0 - mx / mass)), oy = int(std::lround(opts.rows / 2.0 - my / mass));
  out.pixels.width = opts.cols;
  out.pixels.height = opts.rows;
  out.pixels.pixels.assign(size_t(opts.rows) * size_t(opts.cols), 0);
  for (int y = 0; y < small.h; ++y)
    for (int x = 0; x < small.w; ++x) {
      const int tx = x + ox, ty = y + oy;
      if (tx < 0 || ty < 0 || tx >= opts.cols || ty >= opts.rows) continue;
      out.pixels.pixels[size_t(ty) * size_t(opts.cols) + size_t(tx)] =
          uint8_t(std::lround(std::clamp(small.at(x, y), 0.f, 1.f) * 255.f));
    }
  return out;
}

// Stroke width as the distance between a stroke's two edges (after the stroke
// width transform of Epshtein, Ofek and Wexler, 2010): from each steep edge, walk
// up the slope into the ink until an edge about as steep falls the other way, then
// on down both outer slopes while they stay a third as steep, so that a blurred
// stroke counts whole. The median walk. A shadow's soft edge starts no walk, and
// a walk into a shadow meets no steep far edge, so shadows do not widen this
// estimate as they widen a mask's. 0 when fewer than 8 walks end.
double stroke_width_across(const Plane& residual) {
  const Plane s = box3(residual);
  const int w = s.w, h = s.h;
  Plane gx(w, h), gy(w, h), slope(w, h);
  for (int y = 1; y + 1 < h; ++y)
    for (int x = 1; x + 1 < w; ++x) {
      gx.at(x, y) = 0.5f * (s.at(x + 1, y) - s.at(x - 1, y));
      gy.at(x, y) = 0.5f * (s.at(x, y + 1) - s.at(x, y - 1));
      slope.at(x, y) = std::hypot(gx.at(x, y), gy.at(x, y));
    }
  // Steep: 30% of the steepest edges' slope (99.5th percentile: the digit's edges
  // are a few percent of the image).
  std::vector<float> sorted(slope.v);
  auto top = sorted.begin() + long(double(sorted.size()) * 0.995);
  if (top == sorted.end()) return 0;
  std::nth_element(sorted.begin(), top, sorted.end());
  const float steep = 0.3f * *top, gentle = steep / 3;
  if (steep <= 0) return 0;
  const int longest = std::min(w, h) / 3;
  std::vector<float> widths;
  for (int y = 1; y + 1 < h; ++y)
    for (int x = 1; x + 1 < w; ++x) {
      const float m = slope.at(x, y);
      if (m < steep) continue;
      const float dx = gx.at(x, y) / m, dy = gy.at(x, y) / m;
      // Step k of the walk: the slope there, and its part along the walk (false: outside).
      float size = 0, along = 0;
      auto at_step = [&](int k) {
        const int qx = int(std::lround(x + k * dx)), qy = int(std::lround(y + k * dy));
        if (qx < 1 || qy < 1 || qx + 1 >= w || qy + 1 >= h) return false;
        size = slope.at(qx, qy);
        along = gx.at(qx, qy) * dx + gy.at(qx, qy) * dy;
        return true;
      };
      for (int k = 1; k <= longest && at_step(k); ++k) {
        if (size < steep || along > -0.7f * size) continue;
        int back = 0, on = k;
        while (back < longest && at_step(-back - 1) && size >= gentle && along > 0.7f * size) ++back;
        while (on < k + longest && at_step(on + 1) && size >= gentle && along < -0.7f * size) ++on;
        widths.push_back(float(back + on));
        break;
      }
    }
  return widths.size() < 8 ? 0.0 : median_of(widths);
}

// The local background's square: wider than any stroke, or the opening keeps the
// stroke as background and hollows it. So 3 widths of the digit's strokes (a
// junction or a round pen's blot is wider than the stroke), and at least the usual
// size. The width is the smaller of two estimates, each too wide in its own way:
// 2 x area / boundary of the ink found without local background (edge shadows and
// specks left out), which a shadow that passes for ink widens; and the width
// across strokes, which the blur of an enlarged scan widens.
int local_square(const Plane& residual) {
  const int usual = std::max(4, std::min(residual.w, residual.h) / 12);
  const auto [ink, threshold] = ink_levels(residual);
  if (ink <= 0) return usual;
  std::vector<uint8_t> mask(residual.v.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = residual.v[i] > threshold;
  std::vector<int> labels;
  const auto parts = drop_specks(drop_edge_shadows(components(mask, residual.w, residual.h, labels), residual.w, residual.h));
  std::vector<bool> ours(parts.empty() ? 1 : size_t(std::max_element(parts.begin(), parts.end(), [](auto& a, auto& b) { return a.label < b.label; })->label) + 1, false);
  for (const auto& c : parts) ours[size_t(c.label)] = true;
  Plane digit(residual.w, residual.h);
  for (size_t i = 0; i < labels.size(); ++i) digit.v[i] = size_t(labels[i]) < ours.size() && ours[size_t(labels[i])];
  double width = stroke_width_estimate(fill_pinholes(digit).v, residual.w, residual.h);
  const double across = stroke_width_across(residual);
  if (across > 0) width = std::min(width, across);
  return std::max(usual, int(std::ceil(kLocalSquareStrokes * width)));
}

// Already what the network eats: its size, a dark frame, light ink.
bool is_network_format(const GrayImage& img, const PreprocessOptions& opts) {
  if (img.width != opts.cols || img.height != opts.rows) return false;
  uint64_t border = 0, n = 0;
  for (int x = 0; x < img.width; ++x) border += img.at(x, 0) + img.at(x, img.height - 1), n += 2;
  for (int y = 0; y < img.height; ++y) border += img.at(0, y) + img.at(img.width - 1, y), n += 2;
  return border <= 10 * n;  // mean border level <= 10 of 255
}

struct Scan {
  Ink ink;
  std::vector<int> labels;
  std::vector<Component> parts;
  bool inverted = false;
  bool tiny_scan = false;
  double scale = 1;  // working pixels per image pixel
};

// Steps 1-5 on the whole image.
Scan scan(const GrayImage& img) {
  Scan s;
  s.tiny_scan = std::min(img.width, img.height) < kTinyScanSide;
  const Plane work = to_working_resolution(to_plane(img));
  s.scale = double(work.w) / img.width;
  Paper paper = border_paper(work);
  Plane residual = subtract_background(work, paper);
  s.inverted = flip_dark_ink(residual, paper.sigma);
  // Tiny scans have no room for uneven lighting; their digit fills the frame.
  if (!s.tiny_scan) subtract_local_background(residual, local_square(residual));
  s.ink = find_ink(residual);
  s.parts = drop_specks(drop_edge_shadows(components(s.ink.mask, work.w, work.h, s.labels), work.w, work.h));
  return s;
}

void check_size(const GrayImage& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.width) * size_t(img.height))
    fail(ErrorKind::data, "image has no pixels");
}

}  // namespace

PreprocessMode preprocess_mode_parse(const std::string& name) {
  if (name == "auto") return PreprocessMode::automatic;
  if (name == "full") return PreprocessMode::full;
  if (name == "none") return PreprocessMode::none;
  fail(ErrorKind::usage, "--preprocess must be auto, full or none (got '" + name + "')");
}

double stroke_width_estimate(const std::vector<float>& plane, int width, int height) {
  size_t area = 0, boundary = 0;
  auto on = [&](int x, int y) { return x >= 0 && y >= 0 && x < width && y < height && plane[size_t(y) * size_t(width) + size_t(x)] > 0.5f; };
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      if (!on(x, y)) continue;
      ++area;
      boundary += !on(x - 1, y) + !on(x + 1, y) + !on(x, y - 1) + !on(x, y + 1);
    }
  return boundary ? 2.0 * double(area) / double(boundary) : 0.0;
}

DigitImage preprocess_digit(const GrayImage& img, const PreprocessOptions& opts) {
  check_size(img);
  if (opts.mode == PreprocessMode::none || (opts.mode == PreprocessMode::automatic && is_network_format(img, opts))) {
    if (img.width != opts.cols || img.height != opts.rows)
      fail(ErrorKind::data, "image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                ", the model takes " + std::to_string(opts.cols) + "x" + std::to_string(opts.rows) +
                                " (use --preprocess auto or full)");
    DigitImage out;
    out.pixels = img;
    out.passed_through = true;
    out.width = img.width;
    return out;
  }
  const Scan s = scan(img);
  const std::vector<Component> parts = one_digit(s.parts);
  Box all;
  for (const auto& c : parts) all.add(c.box);
  DigitImage out = to_network_input(cut_out(s.ink, s.labels, parts, all), s.tiny_scan, s.scale, opts);
  out.inverted = s.inverted;
  out.x = int(all.x0 / s.scale);
  out.width = int(std::ceil(all.width() / s.scale));
  return out;
}

std::vector<DigitImage> preprocess_number(const GrayImage& img, const PreprocessOptions& opts) {
  check_size(img);
  const Scan s = scan(img);
  // Pieces of one digit overlap horizontally (the bar of a 5, a broken loop);
  // neighbouring digits do not. Merge until no two groups overlap by half the narrower one.
  std::vector<std::vector<Component>> groups;
  for (const auto& c : s.parts) groups.push_back({c});
  auto box_of = [](const std::vector<Component>& g) {
    Box b;
    for (const auto& c : g) b.add(c.box);
    return b;
  };
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < groups.size() && !merged; ++i)
      for (size_t j = i + 1; j < groups.size() && !merged; ++j) {
        const Box a = box_of(groups[i]), b = box_of(groups[j]);
        const int overlap = std::min(a.x1, b.x1) - std::max(a.x0, b.x0) + 1;
        if (overlap >= 0.5 * std::min(a.width(), b.width())) {
          groups[i].insert(groups[i].end(), groups[j].begin(), groups[j].end());
          groups.erase(groups.begin() + long(j));
          merged = true;
        }
      }
  }
  // A piece far smaller than the biggest digit (the detached flag of a 5, a broken
  // stroke) joins its horizontally nearest neighbour.
  auto area_of = [](const std::vector<Component>& g) {
    size_t a = 0;
    for (const auto& c : g) a += c.area;
    return a;
  };
  for (bool merged = true; merged && groups.size() > 1;) {
    merged = false;
    size_t biggest = 0;
    for (const auto& g : groups) biggest = std::max(biggest, area_of(g));
    for (size_t i = 0; i < groups.size() && !merged; ++i) {
      if (double(area_of(groups[i])) >= 0.15 * double(biggest)) continue;
      size_t nearest = i == 0 ? 1 : 0;
      for (size_t j = 0; j < groups.size(); ++j)
        if (j != i && box_gap(box_of(groups[i]), box_of(groups[j])) < box_gap(box_of(groups[i]), box_of(groups[nearest])))
          nearest = j;
      groups[nearest].insert(groups[nearest].end(), groups[i].begin(), groups[i].end());
      groups.erase(groups.begin() + long(i));
      merged = true;
    }
  }
  std::sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) { return box_of(a).x0 < box_of(b).x0; });
  std::vector<DigitImage> digits;
  for (const auto& g : groups) {
    const Box b = box_of(g);
    DigitImage d = to_network_input(cut_out(s.ink, s.labels, g, b), s.tiny_scan, s.scale, opts);
    d.inverted = s.inverted;
    d.x = int(b.x0 / s.scale);
    d.width = int(std::ceil(b.width() / s.scale));
    digits.push_back(std::move(d));
  }
  return digits;
}

std::string image_text_art(const GrayImage& img) {
  static const char ramp[] = " .:-=+*#%@";
  std::string out;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width; ++x) {
      const char c = ramp[img.at(x, y) * 9 / 255];
      out += c;
      out += c;  // two characters per pixel: terminal cells are twice as tall as wide
    }
    out += '\n';
  }
  return out;
}

}  // namespace digitnet

#include "digitnet/core/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "digitnet/core/loss.hpp"
#include "digitnet/core/rng.hpp"

namespace digitnet {

std::vector<uint32_t> MlpShape::widths() const {
  std::vector<uint32_t> w{inputs};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(classes);
  return w;
}

size_t MlpShape::num_params() const {
  const auto w = widths();
  size_t n = 0;
  for (size_t l = 0; l + 1 < w.size(); ++l) n += size_t(w[l + 1]) * w[l] + w[l + 1];
  return n;
}

std::string MlpShape::str() const {
  std::string s;
  for (uint32_t w : widths()) s += (s.empty() ? "" : "-") + std::to_string(w);
  return s;
}

std::vector<LayerSlice> mlp_layout(const MlpShape& shape) {
  const auto w = shape.widths();
  std::vector<LayerSlice> layout;
  size_t offset = 0;
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    LayerSlice s{w[l], w[l + 1], offset, offset + size_t(w[l + 1]) * w[l]};
    offset = s.bias_offset + s.out;
    layout.push_back(s);
  }
  return layout;
}

void mlp_init(const MlpShape& shape, uint64_t seed, float* params) {
  const auto layout = mlp_layout(shape);
  for (size_t l = 0; l < layout.size(); ++l) {
    const LayerSlice& s = layout[l];
    const bool output = (l + 1 == layout.size());
    // He et al. 2015 for ReLU layers; the softmax layer gets unit-variance logits.
    const double stddev = std::sqrt((output ? 1.0 : 2.0) / double(s.in));
    Rng rng(seed_derive(seed, 0x494e4954ULL /* "INIT" */, l));
    for (size_t i = 0; i < s.out * s.in; ++i) params[s.weight_offset + i] = float(stddev * rng.normal());
    std::fill(params + s.bias_offset, params + s.bias_offset + s.out, 0.f);
  }
}

Mlp::Mlp(const MlpShape& shape) : shape_(shape), layout_(mlp_layout(shape)) {
  for (size_t l = 0; l < layout_.size(); ++l) layers_.emplace_back(layout_[l].in, layout_[l].out, l + 1 < layout_.size());
  params_.assign(shape_.num_params(), 0.f);
  grads_.assign(shape_.num_params(), 0.f);
  acts_.resize(layout_.size());
}

void Mlp::ensure_batch(size_t n) {
  if (n <= capacity_) return;
  size_t widest = 0;
  for (size_t l = 0; l < layout_.size(); ++l) {
    acts_[l].resize(n * layout_[l].out);
    if (l < drop_.size()) drop_[l].resize(n * layout_[l].out);
    widest = std::max({widest, layout_[l].in, layout_[l].out});
  }
  diff_a_.resize(n * widest);
  diff_b_.resize(n * widest);
  capacity_ = n;
}

void flush_denormals_to_zero() {
#if defined(__SSE__) || defined(__x86_64__)
  const auto set = [] { _mm_setcsr(_mm_getcsr() | 0x8040); };  // FTZ (bit 15) | DAZ (bit 6)
  set();
#pragma omp parallel
  set();
#endif
}

void dropout_factors(const DropoutDraw& draw, size_t position, size_t layer, size_t width, float rate, float* out) {
  Rng rng(seed_derive(draw.seed ^ 0x44524f50ULL /* "DROP" */, draw.step, position * 64 + layer));
  const float keep = 1.f / (1.f - rate);
  // 16-bit uniforms, four per draw: the rate is used to 1/65536.
  const uint32_t threshold = uint32_t(std::lround(double(rate) * 65536.0));
  for (size_t u = 0; u < width; u += 4) {
    uint64_t r = rng.next();
    for (size_t k = u; k < std::min(width, u + 4); ++k, r >>= 16) out[k] = (uint32_t(r & 0xffff) < threshold) ? 0.f : keep;
  }
}

void Mlp::set_regularization(const Regularization& reg) {
  reg_ = reg;
  reg_.dropout.resize(shape_.hidden.size(), 0.f);
  drop_.assign(shape_.hidden.size(), {});
  capacity_ = 0;  // re-size the buffers, dropout factors included
}

// x (n, inputs) -> acts_[l] (n, widths[l+1]) for every layer; the last holds the logits.
// With a draw, each hidden layer's output is multiplied by its dropout factors.
void Mlp::forward(const float* x, size_t n, Precision precision, const DropoutDraw* draw) {
  ensure_batch(n);
  const float* src = x;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerSlice& s = layout_[l];
    float* dst = acts_[l].data();
    layers_[l].forward(n, src, &params_[s.weight_offset], &params_[s.bias_offset], dst, precision);
    if (draw && l < reg_.dropout.size() && reg_.dropout[l] > 0) {
      float* f = drop_[l].data();
#pragma omp parallel for schedule(static)
      for (size_t b = 0; b < n; ++b) dropout_factors(*draw, draw->first_position + b, l, s.out, reg_.dropout[l], f + b * s.out);
#pragma omp parallel for simd schedule(static)
      for (size_t i = 0; i < n * s.out; ++i) dst[i] *= f[i];
    }
    src = dst;
  }
}

double Mlp::loss_grad(const float* x, const int32_t* labels, size_t n, float scale, uint64_t* correct,
                      const DropoutDraw* draw, GradientListener* listener) {
  const double loss = forward_loss(x, labels, n, scale, correct, draw);
  backward(x, n, draw, listener);
  return loss;
}

// Leaves the gradient w.r.t. the logits in diff_a_ for backward.
double Mlp::forward_loss(const float* x, const int32_t* labels, size_t n, float scale, uint64_t* correct,
                         const DropoutDraw* draw) {
  if (n == 0) return 0.0;
  forward(x, n, precision_, draw);
  return softmax_xent(acts_.back().data(), labels, n, shape_.classes, scale, diff_a_.data(), nullptr, correct,
                      reg_.label_smoothing);
}

void Mlp::backward(const float* x, size_t n, const DropoutDraw* draw, GradientListener* listener) {
  if (n == 0) {  // a rank without samples in this batch contributes zero
    std::fill(grads_.begin(), grads_.end(), 0.f);
    for (size_t l = layers_.size(); listener && l-- > 0;) listener->layer_done(l);
    return;
  }
  float* diff = diff_a_.data();   // gradient w.r.t. the current layer's output
  float* spare = diff_b_.data();  // receives the gradient w.r.t. its input
  for (size_t l = layers_.size(); l-- > 0;) {
    const LayerSlice& s = layout_[l];
    if (draw && l < reg_.dropout.size() && reg_.dropout[l] > 0) {  // through the dropout factors
      const float* f = drop_[l].data();
#pragma omp parallel for simd schedule(static)
      for (size_t i = 0; i < n * s.out; ++i) diff[i] *= f[i];
    }
    const float* src = l == 0 ? x : acts_[l - 1].data();
    const auto weights_done = [&] { listener->layer_done(l); };
    layers_[l].backward(n, src, &params_[s.weight_offset], acts_[l].data(), diff, l == 0 ? nullptr : spare,
                        &grads_[s.weight_offset], &grads_[s.bias_offset], precision_,
                        listener ? std::function<void()>(weights_done) : std::function<void()>());
    if (listener && l > 0) listener->input_gradient_done(l);
    std::swap(diff, spare);
  }
}

void Mlp::predict(const float* x, size_t n, float* probs) {
  if (n == 0) return;
  forward(x, n, Precision::f32);
  softmax_xent(acts_.back().data(), nullptr, n, shape_.classes, 1.f, nullptr, probs, nullptr);
}

std::vector<float> Mlp::predict_dataset(const Dataset& ds, const InputNorm& norm, Range range) {
  constexpr size_t kChunk = 500;
  std::vector<float> probs((range.end - range.begin) * shape_.classes);
  std::vector<uint32_t> idx(kChunk);
  std::vector<float> x(kChunk * ds.features());
  std::vector<int32_t> labels(kChunk);
  for (size_t begin = range.begin; begin < range.end; begin += kChunk) {
    const size_t n = std::min(kChunk, range.end - begin);
    for (size_t i = 0; i < n; ++i) idx[i] = uint32_t(begin + i);
    batch_gather(ds, norm, idx.data(), n, x.data(), labels.data());
    predict(x.data(), n, probs.data() + (begin - range.begin) * shape_.classes);
  }
  return probs;
}

EvalResult Mlp::evaluate(const Dataset& ds, const InputNorm& norm, Range range, std::vector<float>* probs_out) {
  std::vector<float> probs = predict_dataset(ds, norm, range);
  std::vector<int32_t> labels(ds.labels.begin() + long(range.begin), ds.labels.begin() + long(range.end));
  EvalResult result(shape_.classes);
  result.add(probs.data(), labels.data(), labels.size());
  if (probs_out) *probs_out = std::move(probs);
  return result;
}

// ---- Plain-loop reference of the whole model (double precision; the dense layers' own are in dense.cpp) ----

double reference_loss_grad(const MlpShape& shape, const double* params, const double* x, const int32_t* labels,
                           size_t n, double scale, double* grads, const Regularization& reg, const DropoutDraw* draw) {
  const auto layout = mlp_layout(shape);
  std::vector<std::vector<double>> acts(layout.size()), drop(layout.size());
  const double* src = x;
  for (size_t l = 0; l < layout.size(); ++l) {
    const LayerSlice& s = layout[l];
    acts[l].resize(n * s.out);
    reference_dense_forward(n, s.in, s.out, l + 1 < layout.size(), src, params + s.weight_offset,
                            params + s.bias_offset, acts[l].data());
    if (draw && l + 1 < layout.size() && l < reg.dropout.size() && reg.dropout[l] > 0) {
      std::vector<float> f(s.out);
      drop[l].resize(n * s.out);
      for (size_t b = 0; b < n; ++b) {
        dropout_factors(*draw, draw->first_position + b, l, s.out, reg.dropout[l], f.data());
        for (size_t u = 0; u < s.out; ++u) drop[l][b * s.out + u] = f[u];
      }
      for (size_t i = 0; i < n * s.out; ++i) acts[l][i] *= drop[l][i];
    }
    src = acts[l].data();
  }
  // softmax cross-entropy against the smoothed target; diff = scale * (p - target)
  const size_t C = shape.classes;
  const double eps = reg.label_smoothing, off = eps / double(C), on = 1.0 - eps + off;
  std::vector<double> diff(n * C);
  double loss = 0;
  for (size_t b = 0; b < n; ++b) {
    const double* z = &acts.back()[b * C];
    const double zmax = *std::max_element(z, z + C);
    double sum = 0;
    for (size_t c = 0; c < C; ++c) sum += std::exp(z[c] - zmax);
    for (size_t c = 0; c < C; ++c) {
      const double target = int32_t(c) == labels[b] ? on : off;
      loss += target * (std::log(sum) - (z[c] - zmax));
      diff[b * C + c] = scale * (std::exp(z[c] - zmax) / sum - target);
    }
  }
  if (!grads) return loss;
  for (size_t l = layout.size(); l-- > 0;) {
    const LayerSlice& s = layout[l];
    if (!drop[l].empty())
      for (size_t i = 0; i < n * s.out; ++i) diff[i] *= drop[l][i];
    std::vector<double> diff_src(l ? n * s.in : 0);
    reference_dense_backward(n, s.in, s.out, l + 1 < layout.size(), l ? acts[l - 1].data() : x,
                             params + s.weight_offset, acts[l].data(), diff.data(), l ? diff_src.data() : nullptr,
                             grads + s.weight_offset, grads + s.bias_offset);
    diff.swap(diff_src);
  }
  return loss;
}

}  // namespace digitnet

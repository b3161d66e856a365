// The model: gradient check of the reference against central differences, and
// the oneDNN fast path against the reference on odd and real shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "digitnet/core/dense.hpp"
#include "digitnet/core/error.hpp"
#include "digitnet/core/eval.hpp"
#include "digitnet/core/loss.hpp"
#include "digitnet/core/model.hpp"
#include "digitnet/core/rng.hpp"

using namespace digitnet;

namespace {

std::vector<double> random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = scale * rng.normal();
  return v;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }
std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

std::vector<int32_t> random_labels(size_t n, uint32_t classes, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> y(n);
  for (auto& l : y) l = int32_t(rng.below(classes));
  return y;
}

// The reference forward pass: every layer's pre-activation (n, out), the last one
// being the logits.
std::vector<std::vector<double>> reference_preactivations(const MlpShape& shape, const std::vector<double>& p,
                                                          const std::vector<double>& x, size_t n) {
  const auto layout = mlp_layout(shape);
  std::vector<std::vector<double>> z(layout.size());
  std::vector<double> src = x;
  for (size_t l = 0; l < layout.size(); ++l) {
    const auto& s = layout[l];
    z[l].resize(n * s.out);
    reference_dense_forward(n, s.in, s.out, false, src.data(), &p[s.weight_offset], &p[s.bias_offset], z[l].data());
    src = z[l];
    for (auto& v : src) v = std::max(v, 0.0);
  }
  return z;
}

// Smallest |pre-activation| of any hidden unit: a finite-difference step that
// is much smaller cannot cross the ReLU kink.
double min_abs_preactivation(const MlpShape& shape, const std::vector<double>& p, const std::vector<double>& x,
                             size_t n) {
  const auto z = reference_preactivations(shape, p, x, n);
  double smallest = 1e300;
  for (size_t l = 0; l + 1 < z.size(); ++l)
    for (double v : z[l]) smallest = std::min(smallest, std::fabs(v));
  return smallest;
}

// The reference's argmax predictions (the first maximum, as softmax_xent takes it),
// leaving out the samples whose top two logits are within `margin`: float rounding
// may break such a near-tie either way.
struct ClearPredictions {
  std::vector<size_t> samples;      // the samples without a near-tie
  std::vector<uint32_t> predicted;  // their predicted classes
  uint64_t correct = 0;             // how many of them match the label
};

ClearPredictions reference_clear_predictions(const MlpShape& shape, const std::vector<double>& p,
                                             const std::vector<double>& x, const std::vector<int32_t>& y, size_t n,
                                             double margin) {
  const std::vector<double> logits = reference_preactivations(shape, p, x, n).back();
  const size_t C = shape.classes;
  ClearPredictions out;
  for (size_t b = 0; b < n; ++b) {
    const double* z = &logits[b * C];
    const size_t top = size_t(std::max_element(z, z + C) - z);
    double second = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < C; ++c)
      if (c != top) second = std::max(second, z[c]);
    if (z[top] - second < margin) continue;
    out.samples.push_back(b);
    out.predicted.push_back(uint32_t(top));
    out.correct += int32_t(top) == y[b];
  }
  return out;
}

// max |a - b| / max |b|: error relative to the scale of the reference.
double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / std::max(scale, 1e-30);
}

// The reference gradient of the mean loss over n samples against central finite
// differences of the reference loss, parameter by parameter; returns the gradient.
std::vector<double> expect_gradient_matches_central_differences(const MlpShape& shape, std::vector<double> p,
                                                                const std::vector<double>& x,
                                                                const std::vector<int32_t>& y, size_t n,
                                                                const Regularization& reg = {},
                                                                const DropoutDraw* draw = nullptr) {
  const double scale = 1.0 / double(n);
  std::vector<double> grad(p.size());
  reference_loss_grad(shape, p.data(), x.data(), y.data(), n, scale, grad.data(), reg, draw);
  // Step from machine epsilon: h ≈ eps^(1/3) balances truncation and rounding error.
  const double h = std::cbrt(std::numeric_limits<double>::epsilon());
  auto loss = [&] { return scale * reference_loss_grad(shape, p.data(), x.data(), y.data(), n, scale, nullptr, reg, draw); };
  for (size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = loss();
    p[i] = keep - h;
    const double down = loss();
    p[i] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grad[i], numeric, 1e-7 + 1e-6 * std::fabs(numeric)) << "parameter " << i;
  }
  return grad;
}

}  // namespace

TEST(GradientCheck, WholeNetworkMatchesCentralDifferences) {
  const MlpShape shape{7, {6, 5}, 4};
  const size_t n = 3;
  const auto y = random_labels(n, shape.classes, 11);
  // Resample until no hidden unit sits near the ReLU kink.
  std::vector<double> p, x;
  for (uint64_t seed = 1;; ++seed) {
    p = random_vec(shape.num_params(), 100 + seed, 0.7);
    x = random_vec(n * shape.inputs, 200 + seed);
    if (min_abs_preactivation(shape, p, x, n) > 1e-3) break;
  }
  const std::vector<double> grad = expect_gradient_matches_central_differences(shape, p, x, y, n);
  // The check can fail: a wrong gradient is far outside the tolerance.
  EXPECT_GT(std::fabs(grad[0]) + std::fabs(grad[1]), 1e-6);
}

TEST(GradientCheck, NoHiddenLayerIsSoftmaxRegression) {
  const MlpShape shape{5, {}, 3};
  const auto p = random_vec(shape.num_params(), 3);
  const auto x = random_vec(2 * shape.inputs, 4);
  const std::vector<int32_t> y{0, 2};
  std::vector<double> grad(p.size());
  reference_loss_grad(shape, p.data(), x.data(), y.data(), 2, 1.0, grad.data());
  // dL/db_c = Σ_b (softmax_c - onehot_c): biases follow shape.inputs * classes weights.
  for (size_t c = 0; c < 3; ++c) {
    double expect = 0;
    for (size_t b = 0; b < 2; ++b) {
      double z[3], sum = 0;
      for (size_t k = 0; k < 3; ++k) {
        z[k] = p[15 + k];
        for (size_t i = 0; i < 5; ++i) z[k] += p[k * 5 + i] * x[b * 5 + i];
      }
      for (double v : z) sum += std::exp(v);
      expect += std::exp(z[c]) / sum - (int32_t(c) == y[b] ? 1 : 0);
    }
    EXPECT_NEAR(grad[15 + c], expect, 1e-12);
  }
}

// oneDNN dense layer against the plain loops, forward and backward, odd shapes.
TEST(DenseVsReference, RandomShapes) {
  struct Case {
    size_t batch, in, out;
    bool relu;
  };
  const Case cases[] = {{1, 1, 1, true},   {3, 7, 5, true},    {17, 13, 29, false}, {64, 784, 512, true},
                        {5, 512, 10, false}, {33, 100, 1, true}, {128, 512, 512, true}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.batch << "x" << c.in << "->" << c.out << (c.relu ? " relu" : ""));
    const auto src = random_vec(c.batch * c.in, seed++), w = random_vec(c.out * c.in, seed++, 0.1),
               b = random_vec(c.out, seed++, 0.1), dd = random_vec(c.batch * c.out, seed++);
    // Reference on the float-rounded inputs so that only the arithmetic differs.
    const auto srcf = to_float(src), wf = to_float(w), bf = to_float(b);
    const auto srcd = to_double(srcf), wd = to_double(wf), bd = to_double(bf);

    std::vector<double> dst_ref(c.batch * c.out);
    reference_dense_forward(c.batch, c.in, c.out, c.relu, srcd.data(), wd.data(), bd.data(), dst_ref.data());
    Dense layer(c.in, c.out, c.relu);
    std::vector<float> dst(c.batch * c.out);
    layer.forward(c.batch, srcf.data(), wf.data(), bf.data(), dst.data());
    EXPECT_LT(rel_err(to_double(dst), dst_ref), 1e-5);

    auto ddf = to_float(dd);
    auto ddd = to_double(ddf);
    std::vector<double> dsrc_ref(c.batch * c.in), dw_ref(c.out * c.in), db_ref(c.out);
    reference_dense_backward(c.batch, c.in, c.out, c.relu, srcd.data(), wd.data(), dst_ref.data(), ddd.data(),
                             dsrc_ref.data(), dw_ref.data(), db_ref.data());
    std::vector<float> dsrc(c.batch * c.in), dw(c.out * c.in), db(c.out);
    layer.backward(c.batch, srcf.data(), wf.data(), dst.data(), ddf.data(), dsrc.data(), dw.data(), db.data());
    EXPECT_LT(rel_err(to_double(dsrc), dsrc_ref), 1e-5);
    EXPECT_LT(rel_err(to_double(dw), dw_ref), 1e-5);
    EXPECT_LT(rel_err(to_double(db), db_ref), 1e-5);
  }
}

TEST(DenseVsReference, OneLayerServesSeveralBatchSizes) {
  Dense layer(9, 4, true);
  const auto w = to_float(random_vec(36, 5)), b = to_float(random_vec(4, 6));
  for (size_t batch : {8, 3, 8, 1, 3}) {
    const auto src = to_float(random_vec(batch * 9, 7 + batch));
    std::vector<float> dst(batch * 4);
    layer.forward(batch, src.data(), w.data(), b.data(), dst.data());
    std::vector<double> ref(batch * 4);
    const auto srcd = to_double(src), wd = to_double(w), bd = to_double(b);
    reference_dense_forward(batch, 9, 4, true, srcd.data(), wd.data(), bd.data(), ref.data());
    EXPECT_LT(rel_err(to_double(dst), ref), 1e-5) << "batch " << batch;
  }
}

// ---- bf16 GEMMs: bf16 inputs, f32 outputs ----

std::vector<double> bf16_rounded(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  bf16_round(v.data(), v.size(), r.data());
  return to_double(r);
}

std::vector<double> abs_of(std::vector<double> v) {
  for (double& x : v) x = std::fabs(x);
  return v;
}

// |got - ref| <= tol * bound elementwise, bound being the sum of the terms' magnitudes:
// the error an f32 accumulation of exact products can make.
void expect_f32_accumulation_of(const std::vector<float>& got, const std::vector<double>& ref,
                                const std::vector<double>& bound, const char* what) {
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - ref[i]) <= 1e-5 * bound[i] + 1e-30) && bad++ < 3)
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", expected " << ref[i] << " (terms sum to " << bound[i] << ")";
  EXPECT_EQ(bad, 0u) << what;
}

// One bf16 forward and backward of a dense layer, and the double-precision reference of the
// same layer on the unrounded inputs.
struct Bf16LayerRun {
  size_t batch, in, out;
  bool relu;
  std::vector<float> src, w, b, diff_dst;  // inputs; diff_dst as the layer masked it
  std::vector<float> dst, dsrc, dw, db;    // the layer's outputs
  std::vector<double> dst_ref, dsrc_ref, dw_ref, db_ref;

  Bf16LayerRun(size_t batch_, size_t in_, size_t out_, bool relu_, uint64_t seed)
      : batch(batch_), in(in_), out(out_), relu(relu_), src(to_float(random_vec(batch * in, seed))),
        w(to_float(random_vec(out * in, seed + 1, 0.1))), b(to_float(random_vec(out, seed + 2, 0.1))),
        diff_dst(to_float(random_vec(batch * out, seed + 3))), dst(batch * out), dsrc(batch * in), dw(out * in),
        db(out), dst_ref(batch * out), dsrc_ref(batch * in), dw_ref(out * in), db_ref(out) {
    const auto diff_in = to_double(diff_dst);
    Dense layer(in, out, relu);
    layer.forward(batch, src.data(), w.data(), b.data(), dst.data(), Precision::bf16);
    layer.backward(batch, src.data(), w.data(), dst.data(), diff_dst.data(), dsrc.data(), dw.data(), db.data(),
                   Precision::bf16);
    const auto srcd = to_double(src), wd = to_double(w), bd = to_double(b);
    auto dd = diff_in;
    reference_dense_forward(batch, in, out, relu, srcd.data(), wd.data(), bd.data(), dst_ref.data());
    // The layer's own ReLU mask: where bf16 moved an output across 0, the f32 mask would differ.
    reference_dense_backward(batch, in, out, relu, srcd.data(), wd.data(), to_double(dst).data(), dd.data(),
                             dsrc_ref.data(), dw_ref.data(), db_ref.data());
  }
};

// The bf16 path computes exactly "bf16-rounded inputs, f32 sums": held to the reference
// on the rounded inputs within f32 accumulation error, on odd and real shapes.
TEST(DenseBf16, IsTheReferenceOnBf16RoundedInputs) {
  struct Case {
    size_t batch, in, out;
    bool relu;
  };
  const Case cases[] = {{1, 1, 1, true}, {3, 7, 5, true}, {17, 13, 29, false}, {64, 784, 512, true},
                        {5, 512, 10, false}};
  uint64_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.batch << "x" << c.in << "->" << c.out << (c.relu ? " relu" : ""));
    const Bf16LayerRun run(c.batch, c.in, c.out, c.relu, seed += 10);
    const auto src = bf16_rounded(run.src), w = bf16_rounded(run.w), b = to_double(run.b);
    std::vector<double> dst(c.batch * c.out), bound(c.batch * c.out);
    reference_dense_forward(c.batch, c.in, c.out, c.relu, src.data(), w.data(), b.data(), dst.data());
    reference_dense_forward(c.batch, c.in, c.out, false, abs_of(src).data(), abs_of(w).data(), abs_of(b).data(),
                            bound.data());
    expect_f32_accumulation_of(run.dst, dst, bound, "dst");

    // Backward: the layer's own masked diff_dst, rounded; the bias gradient sums it unrounded, in f32.
    const auto dd = bf16_rounded(run.diff_dst), dd_f32 = to_double(run.diff_dst);
    auto backward = [&](const std::vector<double>& s, const std::vector<double>& wt, std::vector<double> d,
                        std::vector<double>& dsrc_out, std::vector<double>& dw_out, std::vector<double>& db_out) {
      dsrc_out.resize(c.batch * c.in), dw_out.resize(c.out * c.in), db_out.resize(c.out);
      reference_dense_backward(c.batch, c.in, c.out, false, s.data(), wt.data(), nullptr, d.data(), dsrc_out.data(),
                               dw_out.data(), db_out.data());
    };
    std::vector<double> dsrc, dw, db_f32, dsrc_bound, dw_bound, db_bound, unused1, unused2;
    backward(src, w, dd, dsrc, dw, unused1);
    backward(abs_of(src), abs_of(w), abs_of(dd), dsrc_bound, dw_bound, unused1);
    backward(src, w, dd_f32, unused1, unused2, db_f32);
    backward(abs_of(src), abs_of(w), abs_of(dd_f32), unused1, unused2, db_bound);
    expect_f32_accumulation_of(run.dsrc, dsrc, dsrc_bound, "diff_src");
    expect_f32_accumulation_of(run.dw, dw, dw_bound, "diff_weight");
    expect_f32_accumulation_of(run.db, db_f32, db_bound, "diff_bias");
  }
}

// Against the f32 model's reference (unrounded inputs): bf16's relative error,
// about 1e-2 at most; and more than f32's 1e-5, so the rounding did happen.
TEST(DenseBf16, IsWithinBf16ToleranceOfTheUnroundedReference) {
  const Bf16LayerRun runs[] = {{64, 784, 512, true, 400}, {128, 512, 512, true, 410}, {128, 512, 10, false, 420}};
  for (const Bf16LayerRun& run : runs) {
    SCOPED_TRACE(testing::Message() << run.batch << "x" << run.in << "->" << run.out);
    const struct {
      const std::vector<float>& got;
      const std::vector<double>& ref;
      const char* what;
    } outputs[] = {{run.dst, run.dst_ref, "dst"}, {run.dsrc, run.dsrc_ref, "diff_src"}, {run.dw, run.dw_ref, "diff_weight"}};
    for (const auto& o : outputs) {
      const double err = rel_err(to_double(o.got), o.ref);
      std::printf("%zux%zu->%zu %s: bf16 relative error %.2e\n", run.batch, run.in, run.out, o.what, err);
      EXPECT_LT(err, 1e-2) << o.what;
      EXPECT_GT(err, 1e-5) << o.what << ": no bf16 rounding seen";
    }
    EXPECT_LT(rel_err(to_double(run.db), run.db_ref), 1e-5) << "diff_bias is an f32 sum";
  }
}

TEST(DenseBf16, BackwardWithoutItsForwardIsRefused) {
  Dense layer(4, 3, true);
  std::vector<float> src(8, 1.f), w(12, 1.f), dst(6, 1.f), dd(6, 1.f), dsrc(8), dw(12), db(3);
  EXPECT_THROW(layer.backward(2, src.data(), w.data(), dst.data(), dd.data(), dsrc.data(), dw.data(), db.data(),
                              Precision::bf16),
               Error);
}

// The whole model in bf16 against the double-precision reference. A gradient check that
// makes sense for bf16: the loss's central difference along the bf16 gradient's
// direction is the rate that gradient predicts, to bf16's 1%.
TEST(MlpBf16, GradientAgreesWithTheReferenceAndCentralDifferences) {
  const MlpShape shape{784, {512, 512}, 10};
  const size_t n = 64;
  Mlp model(shape);
  model.set_precision(Precision::bf16);
  mlp_init(shape, 5, model.params().data());
  const auto x = to_float(random_vec(n * shape.inputs, 17));
  const auto y = random_labels(n, shape.classes, 19);
  const float scale = 1.f / float(n);
  uint64_t correct = 0;
  const double loss = model.loss_grad(x.data(), y.data(), n, scale, &correct);
  const auto g = to_double(model.grads());

  const auto pd = to_double(model.params()), xd = to_double(x);
  std::vector<double> g_ref(pd.size());
  const double loss_ref = reference_loss_grad(shape, pd.data(), xd.data(), y.data(), n, scale, g_ref.data());
  EXPECT_NEAR(loss, loss_ref, 1e-2 * loss_ref);
  EXPECT_LT(rel_err(g, g_ref), 5e-2);
  double dot = 0, norm = 0, norm_ref = 0;
  for (size_t i = 0; i < g.size(); ++i) dot += g[i] * g_ref[i], norm += g[i] * g[i], norm_ref += g_ref[i] * g_ref[i];
  EXPECT_GT(dot / std::sqrt(norm * norm_ref), 0.999) << "cosine of the bf16 and exact gradients";

  const double h = 1e-3;  // along a unit direction; the loss is smooth at this scale but for ReLU kinks
  auto loss_at = [&](double t) {
    std::vector<double> p = pd;
    for (size_t i = 0; i < p.size(); ++i) p[i] += t * g[i] / std::sqrt(norm);
    return scale * reference_loss_grad(shape, p.data(), xd.data(), y.data(), n, scale, nullptr);
  };
  const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
  EXPECT_NEAR(std::sqrt(norm), numeric, 1e-2 * numeric) << "bf16 gradient norm against the loss's slope along it";
}

TEST(MlpBf16, PredictRunsInF32) {
  const MlpShape shape{50, {40}, 6};
  Mlp f32_model(shape), bf16_model(shape);
  mlp_init(shape, 9, f32_model.params().data());
  bf16_model.params() = f32_model.params();
  bf16_model.set_precision(Precision::bf16);
  const size_t n = 9;
  const auto x = to_float(random_vec(n * shape.inputs, 23));
  std::vector<float> p32(n * shape.classes), p16(n * shape.classes);
  f32_model.predict(x.data(), n, p32.data());
  bf16_model.predict(x.data(), n, p16.data());
  EXPECT_EQ(std::memcmp(p32.data(), p16.data(), p32.size() * sizeof(float)), 0);
  // while its training step does run in bf16
  const auto y = random_labels(n, shape.classes, 29);
  EXPECT_NE(f32_model.loss_grad(x.data(), y.data(), n, 1.f, nullptr), bf16_model.loss_grad(x.data(), y.data(), n, 1.f, nullptr));
}

// The whole fast model against the whole reference: loss, every gradient, probabilities.
TEST(MlpVsReference, LossGradAndPredict) {
  const MlpShape shapes[] = {{13, {7}, 3}, {1, {}, 2}, {33, {17, 9, 31}, 5}, {784, {512, 512}, 10}};
  const size_t batches[] = {5, 1, 11, 128};
  for (size_t k = 0; k < 4; ++k) {
    const MlpShape& shape = shapes[k];
    const size_t n = batches[k];
    SCOPED_TRACE(shape.str());
    Mlp model(shape);
    mlp_init(shape, 42 + k, model.params().data());
    const auto x = to_float(random_vec(n * shape.inputs, 7 + k));
    const auto y = random_labels(n, shape.classes, 9 + k);
    const float scale = 1.f / float(n);
    uint64_t correct = 0;
    const double loss = model.loss_grad(x.data(), y.data(), n, scale, &correct);

    const auto pd = to_double(model.params()), xd = to_double(x);
    std::vector<double> grad_ref(pd.size());
    const double loss_ref = reference_loss_grad(shape, pd.data(), xd.data(), y.data(), n, scale, grad_ref.data());
    EXPECT_NEAR(loss, loss_ref, 1e-5 * std::fabs(loss_ref));
    EXPECT_LT(rel_err(to_double(model.grads()), grad_ref), 1e-4);

    std::vector<float> probs(n * shape.classes);
    model.predict(x.data(), n, probs.data());
    for (size_t b = 0; b < n; ++b) {
      const float s = std::accumulate(probs.begin() + long(b * shape.classes), probs.begin() + long((b + 1) * shape.classes), 0.f);
      EXPECT_NEAR(s, 1.f, 1e-5);
    }

    // Correct argmax predictions: the reference's count. A sample whose top two reference
    // logits are within 1e-4 may go either way in float; such samples are left out, and
    // the fast path counts again over the rest.
    const ClearPredictions ref = reference_clear_predictions(shape, pd, xd, y, n, 1e-4);
    const size_t near_ties = n - ref.samples.size();
    EXPECT_LE(near_ties, n / 10) << "too many near-ties for the count to mean anything";
    std::vector<float> x_clear;
    std::vector<int32_t> y_clear;
    for (size_t b : ref.samples) {
      x_clear.insert(x_clear.end(), x.begin() + long(b * shape.inputs), x.begin() + long((b + 1) * shape.inputs));
      y_clear.push_back(y[b]);
    }
    uint64_t correct_clear = 0;
    model.loss_grad(x_clear.data(), y_clear.data(), y_clear.size(), scale, &correct_clear);
    EXPECT_EQ(correct_clear, ref.correct);
    EXPECT_GE(correct, ref.correct);  // over the whole batch: the near-ties add 0 or 1 each
    EXPECT_LE(correct, ref.correct + near_ties);
    // predict's argmax is the reference's too.
    for (size_t i = 0; i < ref.samples.size(); ++i) {
      const float* p = &probs[ref.samples[i] * shape.classes];
      EXPECT_EQ(size_t(std::max_element(p, p + shape.classes) - p), ref.predicted[i]) << "sample " << ref.samples[i];
    }
  }
}

TEST(Mlp, EmptyShardGivesZeroGradient) {
  const MlpShape shape{4, {3}, 2};
  Mlp model(shape);
  mlp_init(shape, 1, model.params().data());
  std::fill(model.grads().begin(), model.grads().end(), 7.f);
  EXPECT_EQ(model.loss_grad(nullptr, nullptr, 0, 1.f, nullptr), 0.0);
  for (float g : model.grads()) EXPECT_EQ(g, 0.f);
}

TEST(Mlp, InitIsDeterministicAndHeScaled) {
  const MlpShape shape{784, {512, 512}, 10};
  std::vector<float> a(shape.num_params()), b(a.size()), c(a.size());
  mlp_init(shape, 1, a.data());
  mlp_init(shape, 1, b.data());
  mlp_init(shape, 2, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(shape.num_params(), 669706u);
  const auto layout = mlp_layout(shape);
  double sq = 0;
  for (size_t i = 0; i < 512 * 784; ++i) sq += double(a[layout[0].weight_offset + i]) * a[layout[0].weight_offset + i];
  EXPECT_NEAR(std::sqrt(sq / (512 * 784)), std::sqrt(2.0 / 784), 2e-3);
  for (size_t i = 0; i < 512; ++i) EXPECT_EQ(a[layout[0].bias_offset + i], 0.f);
  EXPECT_EQ(layout.back().bias_offset + 10, shape.num_params());
}

TEST(Loss, SoftmaxXentIsStableForHugeLogits) {
  const float logits[] = {1000.f, 0.f, -1000.f, 3.f, 3.f, 3.f};
  const int32_t labels[] = {0, 2};
  float diff[6], probs[6];
  uint64_t correct = 0;
  const double loss = softmax_xent(logits, labels, 2, 3, 0.5f, diff, probs, &correct);
  EXPECT_NEAR(loss, 0.0 + std::log(3.0), 1e-6);
  EXPECT_TRUE(std::isfinite(diff[2]));
  EXPECT_NEAR(diff[0], 0.f, 1e-7);
  EXPECT_NEAR(diff[5], 0.5f * (1.f / 3 - 1), 1e-6);
  EXPECT_EQ(correct, 1u);  // ties: argmax picks class 0, label 2
}

TEST(Eval, ConfusionPrecisionRecall) {
  EvalResult r(2);
  const float probs[] = {0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f, 0.3f, 0.7f};
  const int32_t labels[] = {0, 1, 1, 1};
  r.add(probs, labels, 4);
  EXPECT_EQ(r.count, 4u);
  EXPECT_EQ(r.correct, 3u);
  EXPECT_EQ(r.confusion, (std::vector<uint64_t>{1, 0, 1, 2}));
  EXPECT_DOUBLE_EQ(r.precision(0), 0.5);
  EXPECT_DOUBLE_EQ(r.recall(1), 2.0 / 3.0);
  EXPECT_NEAR(r.loss(), -(std::log(0.9) + std::log(0.8) + std::log(0.4) + std::log(0.7)) / 4, 1e-6);
}

// ---------------------------------------------------------------- regularisation

TEST(Regularization, DropoutAndLabelSmoothingGradientMatchesCentralDifferences) {
  // With a fixed draw the dropout mask is a constant of the function, so the
  // reference gradient must still match finite differences of the reference loss.
  const MlpShape shape{7, {6, 5}, 4};
  const size_t n = 3;
  const auto y = random_labels(n, shape.classes, 12);
  Regularization reg;
  reg.dropout = {0.3f, 0.5f};
  reg.label_smoothing = 0.1f;
  const DropoutDraw draw{77, 5, 10};
  std::vector<double> p, x;
  for (uint64_t seed = 1;; ++seed) {
    p = random_vec(shape.num_params(), 300 + seed, 0.7);
    x = random_vec(n * shape.inputs, 400 + seed);
    if (min_abs_preactivation(shape, p, x, n) > 1e-3) break;
  }
  const std::vector<double> grad = expect_gradient_matches_central_differences(shape, p, x, y, n, reg, &draw);
  // The regularisation did something: the gradient differs from the plain one.
  std::vector<double> plain(p.size());
  reference_loss_grad(shape, p.data(), x.data(), y.data(), n, 1.0 / n, plain.data());
  EXPECT_GT(rel_err(grad, plain), 1e-2);
}

TEST(Regularization, OneDnnModelMatchesReferenceWithDropoutAndSmoothing) {
  const MlpShape shape{33, {17, 9}, 5};
  const size_t n = 13;
  Regularization reg;
  reg.dropout = {0.2f, 0.4f};
  reg.label_smoothing = 0.05f;
  const DropoutDraw draw{3, 41, 100};
  const auto pd = random_vec(shape.num_params(), 21, 0.5);
  const auto xd = random_vec(n * shape.inputs, 22);
  const auto y = random_labels(n, shape.classes, 23);
  Mlp model(shape);
  model.set_regularization(reg);
  for (size_t i = 0; i < pd.size(); ++i) model.params()[i] = float(pd[i]);
  std::vector<float> x(xd.begin(), xd.end());
  std::vector<double> pr(model.params().begin(), model.params().end()), xr(x.begin(), x.end());
  const float scale = 1.f / n;
  const double loss = model.loss_grad(x.data(), y.data(), n, scale, nullptr, &draw);
  std::vector<double> grad_ref(pd.size());
  const double loss_ref = reference_loss_grad(shape, pr.data(), xr.data(), y.data(), n, scale, grad_ref.data(), reg, &draw);
  EXPECT_NEAR(loss, loss_ref, 1e-4 * std::fabs(loss_ref));
  std::vector<double> grad(model.grads().begin(), model.grads().end());
  EXPECT_LT(rel_err(grad, grad_ref), 1e-4);
}

TEST(Regularization, DropoutIsOffAtEvaluationAndWithoutADraw) {
  const MlpShape shape{20, {16}, 3};
  const auto pd = random_vec(shape.num_params(), 31, 0.5);
  const auto xd = random_vec(4 * shape.inputs, 32);
  std::vector<float> x(xd.begin(), xd.end());
  const auto y = random_labels(4, shape.classes, 33);
  Mlp plain(shape), dropped(shape);
  Regularization reg;
  reg.dropout = {0.5f};
  dropped.set_regularization(reg);
  for (size_t i = 0; i < pd.size(); ++i) plain.params()[i] = dropped.params()[i] = float(pd[i]);
  std::vector<float> p1(4 * 3), p2(4 * 3);
  plain.predict(x.data(), 4, p1.data());
  dropped.predict(x.data(), 4, p2.data());
  EXPECT_EQ(0, std::memcmp(p1.data(), p2.data(), p1.size() * sizeof(float))) << "predict applied dropout";
  const double l1 = plain.loss_grad(x.data(), y.data(), 4, 1.f, nullptr);
  const double l2 = dropped.loss_grad(x.data(), y.data(), 4, 1.f, nullptr);  // no draw: no dropout
  EXPECT_EQ(l1, l2);
  const DropoutDraw draw{1, 0, 0};
  EXPECT_NE(l1, dropped.loss_grad(x.data(), y.data(), 4, 1.f, nullptr, &draw)) << "the draw changed nothing";
}

TEST(Regularization, DropoutFactorsKeepTheExpectationAndDependOnPositionOnly) {
  // Inverted dropout: factors are 0 or 1/(1-p), a fraction p of zeros, mean 1.
  const size_t width = 1000, samples = 200;
  const float rate = 0.3f;
  std::vector<float> f(width);
  double sum = 0, zeros = 0;
  for (size_t pos = 0; pos < samples; ++pos) {
    dropout_factors({9, 4, 0}, pos, 1, width, rate, f.data());
    for (float v : f) {
      ASSERT_TRUE(v == 0.f || std::fabs(v - 1.f / 0.7f) < 1e-6f) << v;
      sum += v;
      zeros += (v == 0.f);
    }
  }
  const double total = double(width * samples);
  EXPECT_NEAR(zeros / total, rate, 0.01);
  EXPECT_NEAR(sum / total, 1.0, 0.01);
  // The same (seed, step, position, layer) gives the same mask; a shard that starts at
  // position 64 of the global batch draws what the whole batch draws there.
  std::vector<float> a(width), b(width);
  dropout_factors({9, 4, 0}, 64, 1, width, rate, a.data());
  dropout_factors({9, 4, 60}, 64, 1, width, rate, b.data());
  EXPECT_EQ(a, b);
  dropout_factors({9, 5, 0}, 64, 1, width, rate, b.data());
  EXPECT_NE(a, b) << "another step must draw another mask";
  dropout_factors({9, 4, 0}, 64, 0, width, rate, b.data());
  EXPECT_NE(a, b) << "another layer must draw another mask";
}

TEST(Regularization, LabelSmoothingLossAndGradientMatchTheFormula) {
  // Two classes, logits 0 and 0: p = (1/2, 1/2); target (1-e+e/2, e/2).
  const float logits[2] = {0.f, 0.f};
  const int32_t label = 0;
  float diff[2];
  const float e = 0.2f;
  const double loss = softmax_xent(logits, &label, 1, 2, 1.f, diff, nullptr, nullptr, e);
  EXPECT_NEAR(loss, std::log(2.0), 1e-7);  // every term is -log(1/2), weights sum to 1
  EXPECT_NEAR(diff[0], 0.5 - 0.9, 1e-7);
  EXPECT_NEAR(diff[1], 0.5 - 0.1, 1e-7);
}

// The MLP: shape, one contiguous parameter buffer and one gradient buffer,
// forward / loss / backward on oneDNN (fast path) and in plain loops (reference).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "digitnet/core/data.hpp"
#include "digitnet/core/dense.hpp"
#include "digitnet/core/eval.hpp"
#include "digitnet/core/shard.hpp"

namespace digitnet {

struct MlpShape {
  uint32_t inputs = 784;
  std::vector<uint32_t> hidden{512, 512};  // ReLU layers
  uint32_t classes = 10;                   // softmax output

  std::vector<uint32_t> widths() const;  // inputs, hidden..., classes
  size_t num_layers() const { return hidden.size() + 1; }
  size_t num_params() const;
  std::string str() const;  // "784-512-512-10"
  bool operator==(const MlpShape& o) const {
    return inputs == o.inputs && hidden == o.hidden && classes == o.classes;
  }
};

// Where layer l's weight (OUT, IN) and bias (OUT) live in the flat parameter buffer.
struct LayerSlice {
  size_t in, out, weight_offset, bias_offset;
};
std::vector<LayerSlice> mlp_layout(const MlpShape& shape);

// He-normal weights for ReLU layers, 1/sqrt(in) for the output layer, zero biases.
void mlp_init(const MlpShape& shape, uint64_t seed, float* params);

// Flushes denormal floats to zero (FTZ and DAZ) on the calling thread and on every
// OpenMP thread of the current team size. Long runs otherwise slow down as Adam
// moments of rarely-updated weights decay into the denormal range (measured: an
// epoch of 784-1024-1024-10 went from 6 s to 17 s over 44 epochs, 12% of m denormal).
// Every rank sets it, so the replicas stay bitwise equal.
void flush_denormals_to_zero();

// Regularisation applied by loss_grad (never by predict/evaluate).
struct Regularization {
  std::vector<float> dropout;  // per hidden layer: probability of dropping a unit (inverted dropout); empty = none
  float label_smoothing = 0;   // see softmax_xent
};

// Which units one training step drops. The mask of a sample depends only on
// (seed, step, the sample's position in the global batch), so W ranks drop
// exactly what 1 rank drops for the same global batch.
struct DropoutDraw {
  uint64_t seed = 0, step = 0;
  size_t first_position = 0;  // position in the global batch of this call's first sample
};
// Dropout factors of one sample for hidden layer `layer`: 0 (dropped) or 1/(1-rate).
void dropout_factors(const DropoutDraw& draw, size_t position, size_t layer, size_t width, float rate, float* out);

// Told as soon as backward has written a layer's gradient (last layer first), so
// the gradient exchange can start while backward goes on, and again once the
// gradient w.r.t. that layer's input is computed too (the exchange can move on).
class GradientListener {
 public:
  virtual void layer_done(size_t layer) = 0;
  virtual void input_gradient_done(size_t /*layer*/) {}

 protected:
  ~GradientListener() = default;
};

// The fast model of one rank. Not thread-safe; one per rank.
class Mlp {
 public:
  explicit Mlp(const MlpShape& shape);
  const MlpShape& shape() const { return shape_; }
  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grads() { return grads_; }

  void set_regularization(const Regularization& reg);

  // The GEMM inputs of loss_grad's forward and backward (f32 by default). predict
  // and evaluate always run in f32 on the f32 master weights, as digitnet-score does.
  void set_precision(Precision precision) { precision_ = precision; }
  Precision precision() const { return precision_; }

  // Forward, softmax cross-entropy and backward over n samples x (n, inputs).
  // grads = scale * Σ per-sample gradients (overwritten; zero when n == 0).
  // Returns Σ per-sample losses and adds the number of correct argmax to *correct.
  // Dropout applies when `draw` is given and the regularization has rates.
  // `listener`, if given, hears of each layer's gradient as it is written.
  double loss_grad(const float* x, const int32_t* labels, size_t n, float scale, uint64_t* correct,
                   const DropoutDraw* draw = nullptr, GradientListener* listener = nullptr);
  // loss_grad in its two halves, for callers that time them apart (--timeline):
  // forward_loss returns what loss_grad returns; backward then writes the grads,
  // given the same x, n and draw.
  double forward_loss(const float* x, const int32_t* labels, size_t n, float scale, uint64_t* correct,
                      const DropoutDraw* draw = nullptr);
  void backward(const float* x, size_t n, const DropoutDraw* draw = nullptr, GradientListener* listener = nullptr);

  // Softmax probabilities (n, classes) of x (n, inputs).
  void predict(const float* x, size_t n, float* probs);

  // Softmax probabilities (range size, classes) of samples [range.begin, range.end) of ds.
  std::vector<float> predict_dataset(const Dataset& ds, const InputNorm& norm, Range range);
  // Scores samples [range.begin, range.end) of ds; probs_out, if given, receives their probabilities.
  EvalResult evaluate(const Dataset& ds, const InputNorm& norm, Range range, std::vector<float>* probs_out = nullptr);

 private:
  void ensure_batch(size_t n);
  void forward(const float* x, size_t n, Precision precision, const DropoutDraw* draw = nullptr);

  MlpShape shape_;
  std::vector<LayerSlice> layout_;
  std::vector<Dense> layers_;
  std::vector<float> params_, grads_;
  std::vector<std::vector<float>> acts_;  // acts_[l] = output of layer l, (B, widths[l+1])
  std::vector<float> diff_a_, diff_b_;    // ping-pong buffers for gradients w.r.t. activations
  Regularization reg_;
  Precision precision_ = Precision::f32;
  std::vector<std::vector<float>> drop_;  // drop_[l] = dropout factors of hidden layer l, (B, width)
  size_t capacity_ = 0;
};

// Plain-loop reference in double precision, for tests: the same math as Mlp,
// with the same dropout factors when reg and draw are given.
double reference_loss_grad(const MlpShape& shape, const double* params, const double* x,
                           const int32_t* labels, size_t n, double scale, double* grads,
                           const Regularization& reg = {}, const DropoutDraw* draw = nullptr);

}  // namespace digitnet

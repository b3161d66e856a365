// One dense (fully connected) layer on oneDNN matmul primitives, forward
// next to backward, and beside it the plain-loop reference the tests hold it
// to. Layouts are plain row-major so the master weights that Adam updates and
// checkpoints store are used in place, without reorders. In bf16 the GEMM
// inputs are bf16 copies of them (see precision.hpp); the outputs stay f32.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

#include "digitnet/core/precision.hpp"

namespace digitnet {

class Dense {
 public:
  Dense(size_t in_features, size_t out_features, bool relu);
  ~Dense();
  Dense(Dense&&) noexcept;
  Dense& operator=(Dense&&) noexcept;

  size_t in_features() const { return in_; }
  size_t out_features() const { return out_; }
  bool relu() const { return relu_; }

  // src (B, IN), weight (OUT, IN), bias (OUT) -> dst (B, OUT) = act(src · weightᵀ + bias)
  // In bf16, src and weight are rounded to bf16 first; bias, ReLU and dst are f32.
  void forward(size_t batch, const float* src, const float* weight, const float* bias, float* dst,
               Precision precision = Precision::f32);

  // diff_dst (B, OUT) is the gradient w.r.t. this layer's output dst (B, OUT);
  // with ReLU it is masked in place by dst > 0. Writes diff_weight (OUT, IN),
  // diff_bias (OUT) and, unless null, diff_src (B, IN), all f32. In bf16 the
  // GEMMs take diff_dst rounded to bf16 and the bf16 src and weight of the
  // forward call just before at this batch size (training calls them in that order).
  // weights_done, if given, runs once diff_weight and diff_bias are written, before
  // diff_src is computed (the gradient exchange can start that much earlier).
  void backward(size_t batch, const float* src, const float* weight, const float* dst,
                float* diff_dst, float* diff_src, float* diff_weight, float* diff_bias,
                Precision precision = Precision::f32, const std::function<void()>& weights_done = {});

 private:
  struct Primitives;  // oneDNN primitives for one batch size and precision, created once and reused
  Primitives& primitives_for(size_t batch, Precision precision);

  size_t in_, out_;
  bool relu_;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

// The plain-loop reference in double precision: the same products as Dense,
// written as the definitions (llm.c's matmul_forward_naive), for tests.
// src (B, IN), weight (OUT, IN), bias (OUT) -> dst (B, OUT)
void reference_dense_forward(size_t batch, size_t in, size_t out, bool relu, const double* src,
                             const double* weight, const double* bias, double* dst);
// diff_dst (B, OUT) masked in place by dst > 0 when relu; diff_src may be null.
void reference_dense_backward(size_t batch, size_t in, size_t out, bool relu, const double* src,
                              const double* weight, const double* dst, double* diff_dst,
                              double* diff_src, double* diff_weight, double* diff_bias);

}  // namespace digitnet

#include "digitnet/dense.hpp"

#include <dnnl.hpp>

#include <map>

#include "digitnet/error.hpp"

namespace digitnet {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream stream(cpu_engine());
  return stream;
}

}  // namespace

struct Dense::Primitives {
  dnnl::inner_product_forward fwd;
  dnnl::inner_product_backward_data bwd_data;
  dnnl::inner_product_backward_weights bwd_weights;
  // Memory objects wrap the caller's buffers: only their data handles change per call.
  memory src, weight, bias, dst, diff_src, diff_weight, diff_bias, diff_dst;
};

struct Dense::Cache {
  std::map<size_t, Primitives> by_batch;
};

Dense::Dense(size_t in_features, size_t out_features, bool relu)
    : in_(in_features), out_(out_features), relu_(relu), cache_(std::make_unique<Cache>()) {}
Dense::~Dense() = default;
Dense::Dense(Dense&&) noexcept = default;
Dense& Dense::operator=(Dense&&) noexcept = default;

Dense::Primitives& Dense::primitives_for(size_t batch) {
  auto it = cache_->by_batch.find(batch);
  if (it != cache_->by_batch.end()) return it->second;
  try {
    auto& eng = cpu_engine();
    const auto B = memory::dim(batch), IN = memory::dim(in_), OUT = memory::dim(out_);
    // Plain layouts: src/dst (B, C) row-major, weight (OUT, IN) row-major = oneDNN "oi".
    memory::desc src_md({B, IN}, f32, tag::nc), weight_md({OUT, IN}, f32, tag::oi),
        bias_md({OUT}, f32, tag::x), dst_md({B, OUT}, f32, tag::nc);

    dnnl::primitive_attr attr;
    if (relu_) {  // fuse ReLU into the forward GEMM
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    dnnl::inner_product_forward::desc fwd_d(dnnl::prop_kind::forward_training, src_md, weight_md, bias_md, dst_md);
    dnnl::inner_product_forward::primitive_desc fwd_pd(fwd_d, attr, eng);
    // The forward primitive descriptor is the hint for both backward ones.
    dnnl::inner_product_backward_data::desc bwd_data_d(src_md, weight_md, dst_md);
    dnnl::inner_product_backward_data::primitive_desc bwd_data_pd(bwd_data_d, eng, fwd_pd);
    dnnl::inner_product_backward_weights::desc bwd_weights_d(src_md, weight_md, bias_md, dst_md);
    dnnl::inner_product_backward_weights::primitive_desc bwd_weights_pd(bwd_weights_d, eng, fwd_pd);

    Primitives p{dnnl::inner_product_forward(fwd_pd),
                 dnnl::inner_product_backward_data(bwd_data_pd),
                 dnnl::inner_product_backward_weights(bwd_weights_pd),
                 memory(src_md, eng, nullptr),
                 memory(weight_md, eng, nullptr),
                 memory(bias_md, eng, nullptr),
                 memory(dst_md, eng, nullptr),
                 memory(src_md, eng, nullptr),
                 memory(weight_md, eng, nullptr),
                 memory(bias_md, eng, nullptr),
                 memory(dst_md, eng, nullptr)};
    return cache_->by_batch.emplace(batch, std::move(p)).first->second;
  } catch (const dnnl::error& e) {
    fail(ErrorKind::runtime, std::string("oneDNN could not create dense layer primitives: ") + e.what());
  }
}

// src (B, IN), weight (OUT, IN), bias (OUT) -> dst (B, OUT)
void Dense::forward(size_t batch, const float* src, const float* weight, const float* bias, float* dst) {
  if (batch == 0) return;
  Primitives& p = primitives_for(batch);
  p.src.set_data_handle(const_cast<float*>(src));
  p.weight.set_data_handle(const_cast<float*>(weight));
  p.bias.set_data_handle(const_cast<float*>(bias));
  p.dst.set_data_handle(dst);
  p.fwd.execute(cpu_stream(), {{DNNL_ARG_SRC, p.src},
                               {DNNL_ARG_WEIGHTS, p.weight},
                               {DNNL_ARG_BIAS, p.bias},
                               {DNNL_ARG_DST, p.dst}});
  cpu_stream().wait();
}

// diff_dst (B, OUT) -> diff_weight (OUT, IN), diff_bias (OUT), diff_src (B, IN)
void Dense::backward(size_t batch, const float* src, const float* weight, const float* dst, float* diff_dst,
                     float* diff_src, float* diff_weight, float* diff_bias) {
  if (batch == 0) return;
  if (relu_) {  // d relu(z)/dz = [z > 0] = [relu(z) > 0]
    const size_t n = batch * out_;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; ++i) diff_dst[i] = dst[i] > 0.f ? diff_dst[i] : 0.f;
  }
  Primitives& p = primitives_for(batch);
  p.src.set_data_handle(const_cast<float*>(src));
  p.diff_dst.set_data_handle(diff_dst);
  p.diff_weight.set_data_handle(diff_weight);
  p.diff_bias.set_data_handle(diff_bias);
  p.bwd_weights.execute(cpu_stream(), {{DNNL_ARG_SRC, p.src},
                                       {DNNL_ARG_DIFF_DST, p.diff_dst},
                                       {DNNL_ARG_DIFF_WEIGHTS, p.diff_weight},
                                       {DNNL_ARG_DIFF_BIAS, p.diff_bias}});
  if (diff_src) {
    p.weight.set_data_handle(const_cast<float*>(weight));
    p.diff_src.set_data_handle(diff_src);
    p.bwd_data.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, p.diff_dst},
                                      {DNNL_ARG_WEIGHTS, p.weight},
                                      {DNNL_ARG_DIFF_SRC, p.diff_src}});
  }
  cpu_stream().wait();
}

}  // namespace digitnet

// The ONNX graph of digitnet-export, read back with the same generated schema:
// names, shapes, operators and initializers as README "Export to ONNX" states them.
// (tests/e2e/export_onnx.sh runs exported models in a real ONNX runtime.)
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "digitnet/core/error.hpp"
#include "digitnet/export/onnx_model.hpp"
#include "onnx/onnx.pb.h"

namespace digitnet {
namespace {

ModelCheckpoint odd_model(std::vector<uint32_t> hidden) {
  ModelCheckpoint m;
  m.spec.rows = 3;
  m.spec.cols = 5;
  m.spec.shape.inputs = 15;
  m.spec.shape.hidden = std::move(hidden);
  m.spec.shape.classes = 3;
  m.spec.input = InputNorm{0.25f, 0.5f};
  m.params.resize(m.spec.shape.num_params());
  mlp_init(m.spec.shape, 7, m.params.data());
  for (size_t i = 0; i < m.params.size(); ++i) m.params[i] += 0.001f * float(i);  // biases not all zero
  m.step = 42;
  return m;
}

onnx::ModelProto encode_and_parse(const ModelCheckpoint& m) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(onnx_model_encode(m)));
  return proto;
}

// (elem_type, dims) of a graph input or output; a dynamic dim reads as its dim_param.
std::pair<int, std::vector<std::string>> type_of(const onnx::ValueInfoProto& v) {
  std::vector<std::string> dims;
  for (const auto& d : v.type().tensor_type().shape().dim())
    dims.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return {v.type().tensor_type().elem_type(), dims};
}

std::vector<float> floats_of(const onnx::TensorProto& t) {
  std::vector<float> values(t.raw_data().size() / sizeof(float));
  std::memcpy(values.data(), t.raw_data().data(), values.size() * sizeof(float));
  return values;
}

TEST(OnnxExport, GraphHasTheDocumentedInputOutputAndOpset) {
  const onnx::ModelProto proto = encode_and_parse(odd_model({7, 4}));
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  EXPECT_EQ(proto.ir_version(), 7);
  EXPECT_EQ(proto.model_version(), 42);
  const onnx::GraphProto& g = proto.graph();
  ASSERT_EQ(g.input_size(), 1);
  ASSERT_EQ(g.output_size(), 1);
  EXPECT_EQ(g.input(0).name(), "pixels");
  EXPECT_EQ(g.output(0).name(), "probabilities");
  const std::vector<std::string> in_dims{"N", "15"}, out_dims{"N", "3"};
  EXPECT_EQ(type_of(g.input(0)), std::make_pair(int(onnx::TensorProto::FLOAT), in_dims));
  EXPECT_EQ(type_of(g.output(0)), std::make_pair(int(onnx::TensorProto::FLOAT), out_dims));
}

TEST(OnnxExport, OneGemmPerLayerReluBetweenSoftmaxLast) {
  for (const auto& hidden : {std::vector<uint32_t>{7, 4}, std::vector<uint32_t>{}}) {
    const onnx::GraphProto g = encode_and_parse(odd_model(hidden)).graph();
    std::vector<std::string> ops, want{"Sub", "Div"};
    for (size_t l = 0; l < hidden.size(); ++l) want.insert(want.end(), {"Gemm", "Relu"});
    want.insert(want.end(), {"Gemm", "Softmax"});
    for (const auto& node : g.node()) {
      ops.push_back(node.op_type());
      if (node.op_type() == "Gemm") {
        ASSERT_EQ(node.attribute_size(), 1);
        EXPECT_EQ(node.attribute(0).name(), "transB");
        EXPECT_EQ(node.attribute(0).i(), 1);
      }
    }
    EXPECT_EQ(ops, want);
    EXPECT_EQ(g.node(0).input(0), "pixels");  // normalisation comes first
    EXPECT_EQ(g.node(g.node_size() - 1).output(0), "probabilities");
    EXPECT_EQ(g.node(g.node_size() - 1).attribute(0).name(), "axis");
    EXPECT_EQ(g.node(g.node_size() - 1).attribute(0).i(), 1);
  }
}

TEST(OnnxExport, InitializersHoldTheCheckpointsNumbersAsStored) {
  const ModelCheckpoint m = odd_model({7, 4});
  const onnx::GraphProto g = encode_and_parse(m).graph();
  std::map<std::string, const onnx::TensorProto*> tensors;
  for (const auto& t : g.initializer()) tensors[t.name()] = &t;
  ASSERT_EQ(tensors.size(), 2 + 2 * m.spec.shape.num_layers());
  EXPECT_EQ(floats_of(*tensors["input_mean"]), std::vector<float>{0.25f});
  EXPECT_EQ(floats_of(*tensors["input_std"]), std::vector<float>{0.5f});
  EXPECT_EQ(tensors["input_mean"]->dims_size(), 0);  // a scalar, broadcast
  const auto layout = mlp_layout(m.spec.shape);
  for (size_t l = 0; l < layout.size(); ++l) {
    const onnx::TensorProto& w = *tensors["layer" + std::to_string(l) + ".weight"];
    const onnx::TensorProto& b = *tensors["layer" + std::to_string(l) + ".bias"];
    EXPECT_EQ(std::vector<int64_t>(w.dims().begin(), w.dims().end()), (std::vector<int64_t>{int64_t(layout[l].out), int64_t(layout[l].in)}));
    const float* p = m.params.data();
    EXPECT_EQ(floats_of(w), std::vector<float>(p + layout[l].weight_offset, p + layout[l].weight_offset + layout[l].out * layout[l].in));
    EXPECT_EQ(floats_of(b), std::vector<float>(p + layout[l].bias_offset, p + layout[l].bias_offset + layout[l].out));
  }
}

TEST(OnnxExport, ParametersThatDoNotMatchTheShapeAreRefused) {
  ModelCheckpoint m = odd_model({7});
  m.params.pop_back();
  EXPECT_THROW(onnx_model_encode(m), Error);
}

}  // namespace
}  // namespace digitnet

#include "digitnet/export/onnx_model.hpp"

#include <initializer_list>
#include <vector>

#include "digitnet/core/error.hpp"
#include "onnx/onnx.pb.h"

// ONNX stores raw tensor data little-endian; we copy floats as they are in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the ONNX export assumes a little-endian host");

namespace digitnet {

namespace {

constexpr int64_t kIrVersion = 7;  // the IR version that came with opset 13 (ONNX 1.8)

// A float32 initializer of shape dims, stored as raw bytes.
void add_initializer(onnx::GraphProto* graph, const std::string& name, std::initializer_list<int64_t> dims,
                     const float* data, size_t count) {
  onnx::TensorProto* t = graph->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(data, count * sizeof(float));
}

onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op, std::initializer_list<std::string> inputs,
                          const std::string& output) {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(output);
  for (const auto& in : inputs) node->add_input(in);
  node->add_output(output);
  return node;
}

void add_int_attribute(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// A float32 (N, width) graph input or output; N is the dynamic batch axis.
void describe_batch(onnx::ValueInfoProto* value, const std::string& name, int64_t width, const std::string& doc) {
  value->set_name(name);
  value->set_doc_string(doc);
  onnx::TypeProto::Tensor* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  tensor->mutable_shape()->add_dim()->set_dim_param("N");
  tensor->mutable_shape()->add_dim()->set_dim_value(width);
}

void add_metadata(onnx::ModelProto* proto, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = proto->add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

// x = (pixels - mean) / std: the same two float operations as the trainer's batch_gather.
std::string add_normalisation(onnx::GraphProto* graph, const InputNorm& norm) {
  add_initializer(graph, "input_mean", {}, &norm.mean, 1);
  add_initializer(graph, "input_std", {}, &norm.std, 1);
  add_node(graph, "Sub", {kOnnxInputName, "input_mean"}, "centred");
  add_node(graph, "Div", {"centred", "input_std"}, "normalised");
  return "normalised";
}

// Layer l: Gemm(src, weight (OUT, IN), bias) with transB = 1, then Relu unless it is the last.
std::string add_dense(onnx::GraphProto* graph, const LayerSlice& slice, const float* params, size_t l, bool last,
                      const std::string& src) {
  const std::string prefix = "layer" + std::to_string(l);
  add_initializer(graph, prefix + ".weight", {int64_t(slice.out), int64_t(slice.in)}, params + slice.weight_offset,
                  slice.out * slice.in);
  add_initializer(graph, prefix + ".bias", {int64_t(slice.out)}, params + slice.bias_offset, slice.out);
  const std::string dst = last ? "logits" : prefix + ".linear";
  add_int_attribute(add_node(graph, "Gemm", {src, prefix + ".weight", prefix + ".bias"}, dst), "transB", 1);
  if (last) return dst;
  add_node(graph, "Relu", {dst}, prefix + ".relu");
  return prefix + ".relu";
}

void describe_model(onnx::ModelProto* proto, const ModelCheckpoint& model) {
  const ModelSpec& spec = model.spec;
  proto->set_ir_version(kIrVersion);
  onnx::OperatorSetIdProto* opset = proto->add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  proto->set_producer_name("digitnet");
  proto->set_producer_version(DIGITNET_VERSION);
  proto->set_model_version(int64_t(model.step));
  proto->set_doc_string("digitnet MLP " + spec.shape.str() + ": probabilities of " +
                        std::to_string(spec.shape.classes) + " classes for " + std::to_string(spec.rows) + "x" +
                        std::to_string(spec.cols) + " images (pixels row-major, value/255, ink bright)");
  add_metadata(proto, "rows", std::to_string(spec.rows));
  add_metadata(proto, "cols", std::to_string(spec.cols));
  add_metadata(proto, "step", std::to_string(model.step));
  add_metadata(proto, "epoch", std::to_string(model.epoch));
}

}  // namespace

std::string onnx_model_encode(const ModelCheckpoint& model) {
  const ModelSpec& spec = model.spec;
  if (model.params.size() != spec.shape.num_params())
    fail(ErrorKind::runtime, "onnx_model_encode: " + std::to_string(model.params.size()) +
                                 " parameters do not match model " + spec.shape.str());
  onnx::ModelProto proto;
  describe_model(&proto, model);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name("digitnet_mlp");
  describe_batch(graph->add_input(), kOnnxInputName, spec.shape.inputs,
                 "pixel / 255, row-major " + std::to_string(spec.rows) + "x" + std::to_string(spec.cols));
  describe_batch(graph->add_output(), kOnnxOutputName, spec.shape.classes, "softmax over the classes");

  std::string x = add_normalisation(graph, spec.input);
  const auto layout = mlp_layout(spec.shape);
  for (size_t l = 0; l < layout.size(); ++l)
    x = add_dense(graph, layout[l], model.params.data(), l, l + 1 == layout.size(), x);
  add_int_attribute(add_node(graph, "Softmax", {x}, kOnnxOutputName), "axis", 1);

  std::string bytes;
  if (!proto.SerializeToString(&bytes)) fail(ErrorKind::runtime, "model too large for one ONNX file (protobuf limit is 2 GiB)");
  return bytes;
}

}  // namespace digitnet

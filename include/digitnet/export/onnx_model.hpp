// A digitnet model as an ONNX graph (digitnet-export), for runtimes outside digitnet:
//
//   pixels  float32 (N, rows*cols), pixel / 255, row-major, ink bright (as MNIST)
//     -> Sub(mean) -> Div(std)                     the checkpoint's input normalisation
//     -> Gemm(W (OUT, IN) as stored, transB=1) -> Relu      one per hidden layer
//     -> Gemm -> Softmax(axis 1)
//   probabilities  float32 (N, classes)
//
// Opset 13, batch axis N dynamic. The schema is Debian's onnx/onnx.proto, compiled at build time.
#pragma once
#include <cstdint>
#include <string>

#include "digitnet/core/checkpoint.hpp"

namespace digitnet {

inline constexpr const char* kOnnxInputName = "pixels";
inline constexpr const char* kOnnxOutputName = "probabilities";
inline constexpr int64_t kOnnxOpset = 13;

// The serialized ONNX ModelProto of a model read from a checkpoint.
std::string onnx_model_encode(const ModelCheckpoint& model);

}  // namespace digitnet

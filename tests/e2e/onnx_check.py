#!/usr/bin/python3
"""Checks a model of digitnet-export with the ONNX checker (Debian's python3-onnx)
and against the graph the README promises. Prints one line; exits 1 on any mismatch.
Usage: onnx_check.py MODEL.onnx ROWS COLS CLASSES HIDDEN  (HIDDEN: 37,23 or none)
"""
import sys

import onnx
from onnx import numpy_helper


def shape_of(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def main():
    path, rows, cols, classes, hidden = sys.argv[1:6]
    rows, cols, classes = int(rows), int(cols), int(classes)
    hidden = [] if hidden == "none" else [int(w) for w in hidden.split(",")]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)  # full_check: strict shape inference too
    problems = []

    def expect(what, got, want):
        if got != want:
            problems.append(f"{what}: {got!r}, expected {want!r}")

    opset = {o.domain: o.version for o in model.opset_import}
    if opset.get("", 0) < 13:
        problems.append(f"opset {opset}, expected 13 or later")
    graph = model.graph
    expect("inputs", [(v.name, v.type.tensor_type.elem_type, shape_of(v)) for v in graph.input],
           [("pixels", onnx.TensorProto.FLOAT, ["N", rows * cols])])
    expect("outputs", [(v.name, v.type.tensor_type.elem_type, shape_of(v)) for v in graph.output],
           [("probabilities", onnx.TensorProto.FLOAT, ["N", classes])])
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output
    expect("inferred output shape", shape_of(inferred[0]), ["N", classes])

    ops = ["Sub", "Div"] + ["Gemm", "Relu"] * len(hidden) + ["Gemm", "Softmax"]
    expect("operators", [n.op_type for n in graph.node], ops)
    gemms = [n for n in graph.node if n.op_type == "Gemm"]
    expect("Gemm transB", [{a.name: a.i for a in n.attribute} for n in gemms], [{"transB": 1}] * len(gemms))
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    widths = [rows * cols] + hidden + [classes]
    expect("weights (out, in) as stored", [list(tensors[n.input[1]].shape) for n in gemms],
           [[widths[l + 1], widths[l]] for l in range(len(gemms))])
    mean, std = float(tensors["input_mean"]), float(tensors["input_std"])
    if problems:
        print(f"onnx_check: {path}: " + "; ".join(problems))
        return 1
    print(f"onnx_check: {path}: checker ok, opset {opset['']}, IR {model.ir_version}, "
          f"{' '.join(ops)}, normalisation mean {mean:.4f} std {std:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

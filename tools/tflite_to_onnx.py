#!/usr/bin/env python3
"""The same network in ONNX: rebuild a float32 .tflite's graph as ONNX from its own weights.

No TensorFlow and no converter package: the flatbuffer is read with the schema module of the
tflite-micro wheel and the graph written with the `onnx` package's helpers, for the operators the
project's own CNNs use (CONV_2D, DEPTHWISE_CONV_2D, ADD, MEAN, MAX_POOL_2D, AVERAGE_POOL_2D,
RESHAPE, FULLY_CONNECTED, SOFTMAX, fused RELU/RELU6: the digits CNN and MobileNetV2). The ONNX
graph keeps the .tflite's NHWC input and output, so the same dataset feeds both. The result is
checked against LiteRT on the family's eval set (largest absolute output difference and top-1
agreement) before it is written.

    python tools/tflite_to_onnx.py models/digits-cnn/fp32.tflite models/digits-cnn-runtimes/fp32.onnx \
        --eval models/digits-cnn/eval.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.models.tflite_model import tflite_schema  # noqa: E402  (the flatbuffer schema, no TF)

OPSET = 17


def convert(tflite: Path) -> onnx.ModelProto:
    schema = tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(tflite.read_bytes(), 0))
    graph = model.subgraphs[0]
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tensors = graph.tensors
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def name(i: int) -> str:
        return f"t{i}"

    def weight(i: int, array: np.ndarray | None = None) -> str:
        if array is None:
            t = tensors[i]
            raw = np.asarray(model.buffers[t.buffer].data, dtype=np.uint8).tobytes()
            array = np.frombuffer(raw, dtype=np.float32).reshape(tuple(t.shape))
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), f"w{i}_{len(inits)}"))
        return inits[-1].name

    def activation(out: str, fused: int) -> str:
        act = {0: None, 1: "Relu", 3: "Clip"}[fused]  # NONE, RELU, RELU6
        if act is None:
            return out
        extra = [weight(-1, np.array(0.0, np.float32)), weight(-1, np.array(6.0, np.float32))] if act == "Clip" else []
        nodes.append(helper.make_node(act, [out, *extra], [out + "_act"]))
        return out + "_act"

    def nchw(value: str) -> str:
        if value in channels_first:
            return value
        nodes.append(helper.make_node("Transpose", [value], [value + "_nchw"], perm=[0, 3, 1, 2]))
        channels_first.add(value + "_nchw")
        return value + "_nchw"

    channels_first: set[str] = set()  # ONNX values in NCHW (Conv and pools); the rest are as in the .tflite
    values: dict[int, str] = {int(i): name(int(i)) for i in graph.inputs}
    for op in graph.operators:
        kind = names[max(model.operatorCodes[op.opcodeIndex].builtinCode,
                         model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)]
        ins, out = [int(i) for i in op.inputs], int(op.outputs[0])
        o = op.builtinOptions
        if kind == "CONV_2D":
            t = tensors[ins[1]]
            raw = np.asarray(model.buffers[t.buffer].data, dtype=np.uint8).tobytes()
            kernel = np.frombuffer(raw, dtype=np.float32).reshape(tuple(t.shape)).transpose(0, 3, 1, 2)  # OHWI -> OIHW
            conv = name(out) + "_conv"
            nodes.append(helper.make_node("Conv", [nchw(values[ins[0]]), weight(ins[1], kernel), weight(ins[2])],
                                          [conv], auto_pad="SAME_UPPER" if o.padding == 0 else "VALID",
                                          strides=[o.strideH, o.strideW],
                                          dilations=[o.dilationHFactor, o.dilationWFactor]))
            values[out] = activation(conv, o.fusedActivationFunction)
            channels_first.add(values[out])
        elif kind == "DEPTHWISE_CONV_2D":  # a grouped Conv: one group per input channel
            t = tensors[ins[1]]
            raw = np.asarray(model.buffers[t.buffer].data, dtype=np.uint8).tobytes()
            kernel = np.frombuffer(raw, dtype=np.float32).reshape(tuple(t.shape)).transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            conv = name(out) + "_dwconv"
            nodes.append(helper.make_node("Conv", [nchw(values[ins[0]]), weight(ins[1], kernel), weight(ins[2])],
                                          [conv], auto_pad="SAME_UPPER" if o.padding == 0 else "VALID",
                                          strides=[o.strideH, o.strideW], group=int(tensors[ins[0]].shape[3]),
                                          dilations=[o.dilationHFactor, o.dilationWFactor]))
            values[out] = activation(conv, o.fusedActivationFunction)
            channels_first.add(values[out])
        elif kind == "ADD":  # both operands in one layout: channels first when both are
            a, b = values[ins[0]], values[ins[1]]
            if (a in channels_first) != (b in channels_first):
                a, b = nchw(a), nchw(b)
            add = name(out) + "_add"
            nodes.append(helper.make_node("Add", [a, b], [add]))
            values[out] = activation(add, o.fusedActivationFunction)
            if a in channels_first:
                channels_first.add(values[out])
        elif kind == "MEAN":  # over the .tflite's axes, mapped to where they are in NCHW
            src = values[ins[0]]
            axes = [int(v) for v in np.frombuffer(np.asarray(model.buffers[tensors[ins[1]].buffer].data,
                                                               dtype=np.uint8).tobytes(), dtype=np.int32)]
            if src in channels_first:
                axes = [{0: 0, 1: 2, 2: 3, 3: 1}[a] for a in axes]
            nodes.append(helper.make_node("ReduceMean", [src], [name(out)], axes=axes, keepdims=int(o.keepDims)))
            values[out] = name(out)
            if o.keepDims and src in channels_first:
                channels_first.add(values[out])
        elif kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            pool = "MaxPool" if kind == "MAX_POOL_2D" else "AveragePool"
            nodes.append(helper.make_node(pool, [nchw(values[ins[0]])], [name(out) + "_nchw"],
                                          kernel_shape=[o.filterHeight, o.filterWidth],
                                          strides=[o.strideH, o.strideW],
                                          auto_pad="SAME_UPPER" if o.padding == 0 else "VALID"))
            values[out] = name(out) + "_nchw"
            channels_first.add(values[out])
        elif kind == "RESHAPE":
            src = values[ins[0]]
            if src in channels_first:  # back to NHWC, so the flattening order is the .tflite's
                nodes.append(helper.make_node("Transpose", [src], [src + "_nhwc"], perm=[0, 2, 3, 1]))
                src += "_nhwc"
            shape = np.array([int(d) for d in tensors[out].shape], np.int64)
            nodes.append(helper.make_node("Reshape", [src, weight(-1, shape)], [name(out)]))
            values[out] = name(out)
        elif kind == "FULLY_CONNECTED":
            bias = [weight(ins[2])] if len(ins) > 2 and ins[2] >= 0 else []
            gemm = name(out) + "_gemm"
            nodes.append(helper.make_node("Gemm", [values[ins[0]], weight(ins[1]), *bias], [gemm], transB=1))
            values[out] = activation(gemm, o.fusedActivationFunction)
        elif kind == "SOFTMAX":
            nodes.append(helper.make_node("Softmax", [values[ins[0]]], [name(out)], axis=-1))
            values[out] = name(out)
        else:
            raise SystemExit(f"{tflite}: operator {kind} is not converted by this script")
    inputs = [helper.make_tensor_value_info(name(int(i)), TensorProto.FLOAT, [int(d) for d in tensors[int(i)].shape])
              for i in graph.inputs]
    outputs = []
    for i in graph.outputs:
        i = int(i)
        if values[i] != name(i):
            nodes.append(helper.make_node("Identity", [values[i]], [name(i)]))
        outputs.append(helper.make_tensor_value_info(name(i), TensorProto.FLOAT, [int(d) for d in tensors[i].shape]))
    onnx_graph = helper.make_graph(nodes, tflite.stem, inputs, outputs, inits)
    result = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                               producer_name="edge-harness tools/tflite_to_onnx.py")
    result.ir_version = 8  # readable by every onnxruntime since 1.14
    onnx.checker.check_model(result)
    return result


def check(tflite: Path, proto: onnx.ModelProto, eval_npz: Path) -> tuple[float, float, float]:
    """(max |difference| of outputs, top-1 agreement, onnx top-1 accuracy) on the eval set."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    data = np.load(eval_npz)
    x, y = data["x"].astype(np.float32), data["y"]
    interp = Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    i_in, i_out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    diff, agree, correct = 0.0, 0, 0
    for k in range(len(y)):
        interp.set_tensor(i_in, x[k:k + 1])
        interp.invoke()
        a = interp.get_tensor(i_out)
        b = session.run(None, {feed: x[k:k + 1]})[0]
        diff = max(diff, float(np.max(np.abs(a - b))))
        agree += int(a.argmax() == b.argmax())
        correct += int(b.argmax() == y[k])
    return diff, agree / len(y), correct / len(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tflite", type=Path)
    ap.add_argument("onnx", type=Path)
    ap.add_argument("--eval", type=Path, help="check against LiteRT on this .npz (x, y)")
    args = ap.parse_args()
    proto = convert(args.tflite)
    if args.eval:
        diff, agree, acc = check(args.tflite, proto, args.eval)
        print(f"max |litert - onnxruntime| = {diff:.2e}; top-1 agreement {agree:.4f}; onnx top-1 {acc:.4f}")
        if agree < 1.0 or diff > 1e-4:
            raise SystemExit("the ONNX graph does not compute what the .tflite computes")
    args.onnx.parent.mkdir(parents=True, exist_ok=True)
    args.onnx.write_bytes(proto.SerializeToString())
    print(f"wrote {args.onnx} ({args.onnx.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The same network as an ExecuTorch program: the digits CNN as a PyTorch module carrying the
weights of models/digits-cnn-runtimes/fp32.onnx (itself rebuilt from ../digits-cnn/fp32.tflite
by tools/tflite_to_onnx.py), exported with torch.export and lowered to XNNPACK
(`to_edge_transform_and_lower` + XnnpackPartitioner). Input and output stay as in the .tflite
(1x8x8x1 NHWC in, 10 softmax scores out), so one dataset feeds every format.

Before writing, the program is run by ExecuTorch's runtime on the family's eval set and compared
with the ONNX graph run by onnx's reference evaluator (largest output difference, top-1
agreement); then the manifest's `pte-fp32` variant is written. Dev only, in .venv-executorch:

    make executorch-models      # = .venv-executorch/bin/python tools/make_pte.py models/digits-cnn-runtimes
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator


class DigitsCnn(torch.nn.Module):
    """tools/make_models.py's Keras digits CNN: 3x3 convs 16-32-(pool)-32, dense 64, dense 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv3 = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = torch.nn.Linear(512, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2)  # NHWC as the .tflite takes it -> NCHW
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = torch.relu(self.conv3(self.pool(x)))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flattened in NHWC order, as the .tflite
        return torch.softmax(self.fc2(torch.relu(self.fc1(x))), dim=-1)


def load_weights(module: DigitsCnn, proto: onnx.ModelProto) -> None:
    """Conv and Gemm nodes in graph order carry the layers' weights in module order."""
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    layers = [module.conv1, module.conv2, module.conv3, module.fc1, module.fc2]
    nodes = [n for n in proto.graph.node if n.op_type in ("Conv", "Gemm")]
    if len(nodes) != len(layers):
        raise SystemExit(f"expected {len(layers)} Conv/Gemm nodes, found {len(nodes)}: not the digits CNN")
    with torch.no_grad():
        for layer, node in zip(layers, nodes):
            weight, bias = inits[node.input[1]], inits[node.input[2]]
            if tuple(layer.weight.shape) != weight.shape:
                raise SystemExit(f"{node.name or node.op_type}: weight {weight.shape}, layer {tuple(layer.weight.shape)}")
            layer.weight.copy_(torch.from_numpy(weight.copy()))  # Gemm transB=1: [out, in], as Linear
            layer.bias.copy_(torch.from_numpy(bias.copy()))


def export(module: DigitsCnn) -> bytes:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(module.eval(), (torch.zeros(1, 8, 8, 1),))
    lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
    graph = lowered.exported_program().graph_module.graph
    leftover = [n.target for n in graph.nodes if n.op == "call_function"
                and "executorch_call_delegate" not in str(n.target) and "getitem" not in str(n.target)]
    if leftover:  # every operator should run in XNNPACK; say which do not
        print(f"not delegated to XNNPACK: {leftover}")
    return lowered.to_executorch().buffer


def check(pte: Path, proto: onnx.ModelProto, eval_npz: Path) -> tuple[float, float, float]:
    """(max |executorch - onnx reference| of outputs, top-1 agreement, .pte top-1 accuracy)."""
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(pte).load_method("forward")
    reference = ReferenceEvaluator(proto)
    feed = proto.graph.input[0].name
    data = np.load(eval_npz)
    x, y = data["x"].astype(np.float32), data["y"]
    diff, agree, correct = 0.0, 0, 0
    for k in range(len(y)):
        a = method.execute([torch.from_numpy(x[k:k + 1])])[0].numpy()
        b = reference.run(None, {feed: x[k:k + 1]})[0]
        diff = max(diff, float(np.max(np.abs(a - b))))
        agree += int(a.argmax() == b.argmax())
        correct += int(a.argmax() == y[k])
    return diff, agree / len(y), correct / len(y)


def manifest_entry(pte: Path, accuracy: float, params: int) -> dict:
    data = pte.read_bytes()
    return {"name": "pte-fp32", "file": pte.name, "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9, mtime=0)),
            "weights": "float32", "activations": "float32", "io_dtype": "float32", "params": params,
            "host_accuracy": round(accuracy, 4),
            "description": "the same float32 network as an ExecuTorch program lowered to XNNPACK, built "
                           "from fp32.onnx's weights by tools/make_pte.py (ExecuTorch)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", type=Path, help="models/digits-cnn-runtimes (holds fp32.onnx and manifest.json)")
    args = ap.parse_args()
    manifest_path = args.family / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    proto = onnx.load(args.family / "fp32.onnx")
    module = DigitsCnn()
    load_weights(module, proto)
    params = sum(p.numel() for p in module.parameters())
    floats = sum(int(np.prod(i.dims)) for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT)
    if params != floats:  # every learned weight carried over (the ONNX's 47532 add Reshape's 2-int shape)
        raise SystemExit(f"{params} parameters in the module, {floats} float weights in the ONNX graph")
    onnx_params = sum(int(np.prod(i.dims)) for i in proto.graph.initializer)  # counted as harness inspect does
    pte = args.family / "fp32.pte"
    pte.write_bytes(export(module))
    diff, agree, acc = check(pte, proto, (args.family / manifest["dataset"]["file"]).resolve())
    print(f"max |executorch - onnx reference| = {diff:.2e}; top-1 agreement {agree:.4f}; pte top-1 {acc:.4f}")
    if agree < 1.0 or diff > 1e-4:
        pte.unlink()
        raise SystemExit("the ExecuTorch program does not compute what the ONNX graph computes")
    variants = [v for v in manifest["variants"] if v["name"] != "pte-fp32"]
    manifest["variants"] = [*variants, manifest_entry(pte, acc, onnx_params)]
    manifest["generator"].update({"pte_script": "tools/make_pte.py", "torch": version("torch"),
                                  "executorch": version("executorch"), "pte_backend": "XNNPACK"})
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {pte} ({pte.stat().st_size} bytes) and its entry in {manifest_path}")


if __name__ == "__main__":
    main()

"""Stand-ins for the four MLPerf Tiny reference models, with their exact input and output
signatures, written as .tflite flatbuffers directly (no TensorFlow needed), plus a small Tiny
dataset folder each (`.bin` files + y_labels.csv, the Tiny runner's format):

    kws01  int8 [1,49,10,1] -> FULLY_CONNECTED -> SOFTMAX int8 [1,12]   wire: int8 features
    vww01  int8 [1,96,96,3] -> FULLY_CONNECTED -> SOFTMAX int8 [1,2]    wire: uint8 pixels
    ic01   int8 [1,32,32,3] -> FULLY_CONNECTED -> SOFTMAX int8 [1,10]   wire: uint8 pixels
    ad01   int8 [1,640] -> FC 8 -> FC 640, int8 [1,640]          wire: 640 float32

Classifiers are template matchers: class c's weights are its prototype, a sample is a scaled
prototype plus noise, so accuracy is high but not perfect. ad01 is a linear autoencoder whose
code spans the normal data's 8-dimensional subspace: normal samples reconstruct well, anomalies
(noise) do not; its metric is the AUC of the anomaly score (the MSE).

    python tools/make_tiny_models.py [OUT_DIR=models]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as fb

SEED = 12
SAMPLES = {"kws01": 24, "vww01": 8, "ic01": 24, "ad01": 20}


def _tensor(name: str, shape: list[int], dtype: int, buffer: int, scale: float, zp: int) -> fb.TensorT:
    t = fb.TensorT()
    t.name, t.shape, t.type, t.buffer = name.encode(), shape, dtype, buffer
    q = fb.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(scale)], [int(zp)]
    t.quantization = q
    return t


def _buffer(data: bytes = b"") -> fb.BufferT:
    b = fb.BufferT()
    b.data = list(data) if data else None
    return b


class Graph:
    def __init__(self) -> None:
        self.tensors: list[fb.TensorT] = []
        self.buffers: list[fb.BufferT] = [_buffer()]  # buffer 0: empty, by convention
        self.ops: list[fb.OperatorT] = []
        self.codes: list[int] = []

    def tensor(self, name: str, shape: list[int], dtype: int, scale: float, zp: int, data: bytes = b"") -> int:
        self.buffers.append(_buffer(data))
        self.tensors.append(_tensor(name, shape, dtype, len(self.buffers) - 1, scale, zp))
        return len(self.tensors) - 1

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int, options: object) -> None:
        if code not in self.codes:
            self.codes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes.index(code), inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def fc(self, x: int, w: np.ndarray, w_scale: float, out_scale: float, out_zp: int, name: str) -> int:
        units, depth = w.shape
        in_scale = self.tensors[x].quantization.scale[0]
        wt = self.tensor(f"{name}/weights", [units, depth], fb.TensorType.INT8, w_scale, 0, w.astype(np.int8).tobytes())
        bt = self.tensor(f"{name}/bias", [units], fb.TensorType.INT32, in_scale * w_scale, 0,
                         np.zeros(units, "<i4").tobytes())
        batch = self.tensors[x].shape[0]
        out = self.tensor(name, [batch, units], fb.TensorType.INT8, out_scale, out_zp)
        opt = fb.FullyConnectedOptionsT()
        opt.fusedActivationFunction = fb.ActivationFunctionType.NONE
        self.op(fb.BuiltinOperator.FULLY_CONNECTED, [x, wt, bt], [out], fb.BuiltinOptions.FullyConnectedOptions, opt)
        return out

    def softmax(self, x: int) -> int:
        out = self.tensor("softmax", list(self.tensors[x].shape), fb.TensorType.INT8, 1 / 256, -128)
        opt = fb.SoftmaxOptionsT()
        opt.beta = 1.0
        self.op(fb.BuiltinOperator.SOFTMAX, [x], [out], fb.BuiltinOptions.SoftmaxOptions, opt)
        return out

    def serialize(self, inputs: list[int], outputs: list[int]) -> bytes:
        sg = fb.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = self.tensors, inputs, outputs, self.ops, b"main"
        m = fb.ModelT()
        m.version, m.description, m.subgraphs, m.buffers = 3, b"edge-harness MLPerf Tiny stand-in", [sg], self.buffers
        codes = []
        for code in self.codes:
            c = fb.OperatorCodeT()
            c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), 1
            codes.append(c)
        m.operatorCodes = codes
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def classifier(shape: list[int], classes: int, in_scale: float, in_zp: int, samples: int,
               rng: np.random.Generator) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The model and int8 input samples (N, *shape) with labels."""
    depth = int(np.prod(shape))
    protos = rng.integers(-100, 101, size=(classes, depth))
    sigma = 45.0
    alpha = 3.0 * sigma / np.sqrt(depth * float(np.mean(protos.astype(float) ** 2)))  # a dot-product SNR of 3
    y = np.arange(samples) % classes
    x = np.clip(np.round(alpha * protos[y] + rng.normal(0, sigma, (samples, depth))) + in_zp, -128, 127).astype(np.int8)
    acc = (x.astype(np.int64) - in_zp) @ protos.T
    out_scale = float(np.abs(acc).max() * in_scale / 127 / 127) / 0.8
    g = Graph()
    inp = g.tensor("input", [1, *shape], fb.TensorType.INT8, in_scale, in_zp)
    logits = g.fc(inp, protos, 1 / 127, out_scale, 0, "logits")
    out = g.softmax(logits)
    return g.serialize([inp], [out]), x.reshape(samples, *shape), y


def autoencoder(samples: int, rng: np.random.Generator) -> tuple[bytes, np.ndarray, np.ndarray]:
    """ad01's stand-in: float32 inputs (N, 640), label 1 for an anomaly."""
    depth, code = 640, 8
    basis, _ = np.linalg.qr(rng.normal(size=(depth, code)))  # orthonormal columns
    y = (np.arange(samples) % 2).astype(np.int64)
    normal = (rng.normal(0, 12.0, (samples, code)) @ basis.T)
    noise = rng.normal(0, 0.6, (samples, depth))
    x = np.where(y[:, None] == 1, noise, normal + 0.05 * noise).astype(np.float32)
    in_scale = float(np.abs(x).max() / 127)
    w_scale = float(np.abs(basis).max() / 127)
    w = np.round(basis / w_scale)
    code_scale = float(np.abs(x @ basis).max() / 127)
    g = Graph()
    inp = g.tensor("input", [1, depth], fb.TensorType.INT8, in_scale, 0)
    # no ReLU: it would drop half the code; the encoder output keeps its sign (zero point 0)
    z = g.fc(inp, w.T, w_scale, code_scale, 0, "encoder")
    out = g.fc(z, w, w_scale, in_scale, 0, "decoder")
    return g.serialize([inp], [out]), x, y


def write_dataset(folder: Path, wire: np.ndarray, y: np.ndarray, classes: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (sample, label) in enumerate(zip(wire, y)):
        name = f"sample_{i:03d}.bin"
        (folder / name).write_bytes(sample.tobytes())
        rows.append(f"{name}, {classes}, {int(label)}, {sample.nbytes}, {sample.nbytes}")
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")


def host_scores(model: bytes, x: np.ndarray) -> np.ndarray:
    """LiteRT's dequantized outputs, the reference the firmware is checked against."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    out = []
    for sample in x:
        interp.set_tensor(i["index"], sample.reshape(i["shape"]).astype(i["dtype"]))
        interp.invoke()
        s, z = o["quantization"]
        out.append((interp.get_tensor(o["index"]).astype(np.float64) - z) * s)
    return np.asarray(out).reshape(len(x), -1)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that an anomaly scores above a normal sample (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


def make(out: Path, bench: str) -> None:
    rng = np.random.default_rng([SEED, sum(bench.encode())])
    n = SAMPLES[bench]
    if bench == "kws01":
        model, x, y = classifier([49, 10, 1], 12, 0.5, -3, n, rng)
        wire, classes = x, 12
    elif bench in ("vww01", "ic01"):
        shape, classes = ([96, 96, 3], 2) if bench == "vww01" else ([32, 32, 3], 10)
        model, x, y = classifier(shape, classes, 1 / 128, 0, n, rng)
        wire = (x.astype(np.int16) + 128).astype(np.uint8)  # the pixels Tiny sends; the board subtracts 128
    else:
        model, x, y = autoencoder(n, rng)
        wire, classes = x.astype("<f4"), 2
    folder = out / bench
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "int8.tflite").write_bytes(model)
    write_dataset(folder / "tiny-dataset", wire, y, classes)
    if bench == "ad01":
        in_scale = float(np.abs(x).max() / 127)
        q = np.clip(np.round(x / in_scale), -128, 127).astype(np.int8)
        recon = host_scores(model, q)
        metric = {"host_auc": auc(((x - recon) ** 2).mean(axis=1), y)}
    else:
        metric = {"host_accuracy": float(np.mean(host_scores(model, x).argmax(axis=1) == y))}
    manifest = {
        "family": bench,
        "task": "latency" if bench == "ad01" else "image-classification",
        "num_classes": classes if bench != "ad01" else 640,
        "mlperf_tiny": {"benchmark": bench},
        "dataset": {"file": "tiny-dataset", "samples": n,
                    "source": f"tools/make_tiny_models.py (synthetic, seed {SEED}); MLPerf Tiny .bin folder"},
        "generator": {"script": "tools/make_tiny_models.py", "numpy": np.__version__, "seed": SEED},
        "variants": [{"name": "int8", "file": "int8.tflite", "sha256": hashlib.sha256(model).hexdigest(),
                      "bytes": len(model), "weights": "int8", "activations": "int8", "io_dtype": "int8",
                      "host_accuracy": metric.get("host_accuracy"),
                      "description": f"MLPerf Tiny {bench} stand-in (same input/output signature); "
                                     + ", ".join(f"{k} {v:.3f}" for k, v in metric.items())}],
    }
    if bench == "ad01":
        manifest.pop("dataset")  # its labels are normal/anomaly, not classes of the 640 outputs
        manifest["variants"][0].pop("host_accuracy")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(bench, len(model), "bytes", metric)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("models")
    for bench in SAMPLES:
        make(out, bench)


if __name__ == "__main__":
    main()

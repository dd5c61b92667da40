#!/usr/bin/env python3
"""Dataset staging over the probe vs over the UART, on the same 115200-baud serial link.

The emulated mps2-an385 starts blank; QEMU's GDB stub stands in for the debug probe's server, the
board's UART goes through the line simulator (a pty paced at BAUD, 8N1: harness/transports/linesim).
The model is generated here: a visual-wake-words-sized int8 input [1,96,96,3] (27,648 bytes),
global average pool to 3 outputs, so the firmware's compute is small and the figure is the data path.

    deploy   the firmware ELF and the model partition written through GDB, read back, reset, the
             hello awaited (first); then the same again when the board already holds both (cached)
    staged   N inputs written into board RAM through GDB in batches that fit the staging region
             (IDENTIFY's staging_bytes), each batch run by EVAL_MEM; only outputs cross the UART.
             Measured: wall time of all N, end to end.
    serial   inputs over the UART, measured on the same simulated line for SAMPLE inputs and scaled
             to N (the transfer dominates and is linear in N):
               text    MLPerf Tiny's `db load` + `db <hex>%` of 31 bytes each (the Tiny runner's)
               binary  the harness's EVAL frames (COBS, CRC-32)
    ratio    serial time / staged time, both on this link, both wall time

Usage: .venv/bin/python benchmarks/dataset_staging.py [--inputs 1000] [--baud 115200]
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from harness.deadline import Deadline
from harness.runners.base import Job
from harness.runners.firmware import FirmwareRunner
from harness.runners.frames import Cmd
from harness.runners.fwclient import FirmwareClient
from harness.runners.gdb_deploy import GdbDeployer, stage_and_eval
from harness.runners.mlperf_tiny import TinyClient
from harness.transports import open_transport
from harness.testing.linesim import LineRelay
from harness.transports.qemu_mcu import DEFAULT_ELF, build_firmware

SHAPE = (1, 96, 96, 3)  # 27,648 bytes: MLPerf Tiny's visual wake words input
GDB = {"server": "gdb://127.0.0.1:0", "model_address": 0x21000000, "reset": ["system_reset"],
       "stage_datasets": True, "probe_timeout": 3.0, "hello_timeout": 60.0, "start_timeout": 30.0, "timeout": 30.0}


def pool_model() -> bytes:
    """int8 [1,96,96,3] -> AVERAGE_POOL_2D over the whole image -> [1,1,1,3] int8."""
    def tensor(name: str, shape: tuple[int, ...]) -> schema.TensorT:
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), schema.TensorType.INT8, 0
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [1 / 128], [0]
        return t

    options = schema.Pool2DOptionsT()
    options.padding = schema.Padding.VALID
    options.strideW = options.strideH = options.filterWidth = options.filterHeight = SHAPE[1]
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.Pool2DOptions, options
    graph = schema.SubGraphT()
    graph.tensors = [tensor("input", SHAPE), tensor("output", (1, 1, 1, SHAPE[3]))]
    graph.inputs, graph.outputs, graph.operators, graph.name = [0], [1], [op], b"main"
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.AVERAGE_POOL_2D
    code.version = 1
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def eval_over_uart(client: FirmwareClient, index: int, x: bytes, max_data: int) -> tuple[int, int, bytes]:
    """An input larger than one frame: SET_INPUT chunks, then EVAL of the input set."""
    client.set_input(x, max_data, Deadline(600))
    reply = client.call(Cmd.EVAL, struct.pack("<I", index), Deadline(600), timeout=60.0)
    got, argmax = struct.unpack_from("<IH2x", reply)
    return got, argmax, reply[8:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--sample", type=int, default=2, help="inputs timed over the UART per serial mode")
    args = parser.parse_args()
    build_firmware()
    rng = np.random.default_rng(0)
    size = int(np.prod(SHAPE))
    inputs = [(i, rng.integers(-128, 128, size, dtype=np.int8).tobytes()) for i in range(args.inputs)]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "vww-pool.tflite"
        model_path.write_bytes(pool_model())
        job = Job(model_path=model_path, dataset_path=None, warmup_count=1, warmup_min_seconds=0,
                  measure_count=1, measure_min_seconds=0)
        board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3}, gdb=GDB)
        board.open(Deadline(300))
        relay = LineRelay(board, Path(tmp) / "by-id" / "usb-sim-if00", baud=args.baud)
        relay.start()
        host = open_transport(f"serial://{relay.link}?baud={args.baud}", serial={"read_timeout": 10})
        host.open(Deadline(10))
        host.gdb_url = board.gdb_url  # the probe reaches the board; the UART goes through the line
        runner = FirmwareRunner(host, read_timeout=10, gdb=GdbDeployer(GDB, DEFAULT_ELF, host))
        try:
            runner.measure(job, Deadline(600))
            runner.measure(job, Deadline(600))
            first, cached = runner.deploys[0], runner.deploys[-1]
            client = runner.client
            info = client.identify(Deadline(30))
            t0 = time.monotonic()
            staged = stage_and_eval(runner.gdb, client, info, SHAPE[3], inputs, Deadline(3600), 30.0)
            staged_s = time.monotonic() - t0
            batches = -(-args.inputs // (int(info["staging_bytes"]) // size))
            t0 = time.monotonic()
            serial = [eval_over_uart(client, i, x, int(info["max_data"])) for i, x in inputs[:args.sample]]
            binary_s = (time.monotonic() - t0) / args.sample * args.inputs
            assert serial == staged[:args.sample], "staged outputs differ from the UART path's"
            client.call(0x0B, b"", Deadline(10))  # TEXT_MODE: the MLPerf Tiny monitor
            tiny = TinyClient(host, read_timeout=30)
            t0 = time.monotonic()
            for _, x in inputs[:args.sample]:
                tiny.load(x, Deadline(600))
            text_s = (time.monotonic() - t0) / args.sample * args.inputs
        finally:
            runner.close()
            host.close()
            relay.stop()
            board.close()
    mb = args.inputs * size / 1e6
    print(f"link: simulated UART at {args.baud} baud 8N1; probe: QEMU's GDB stub on 127.0.0.1 (mps2-an385)")
    print(f"deploy first : {first['seconds']:8.3f} s  {first['bytes_written']:>9} B written "
          f"(blank board asked, firmware ELF + model partition written, read back, reset, hello, asked again)")
    print(f"deploy cached: {cached['seconds']:8.3f} s  {cached['bytes_written']:>9} B written "
          f"(build id and model SHA-256 asked over the UART)")
    print(f"staged       : {staged_s:8.1f} s  {args.inputs} inputs x {size} B = {mb:.1f} MB in {batches} batches, "
          f"{mb / staged_s:.2f} MB/s end to end (measured)")
    print(f"serial binary: {binary_s:8.1f} s  (EVAL frames; {args.sample} inputs measured, x {args.inputs / args.sample:g})")
    print(f"serial text  : {text_s:8.1f} s  (MLPerf Tiny db commands; {args.sample} inputs measured, "
          f"x {args.inputs / args.sample:g})")
    print(f"ratio        : {text_s / staged_s:8.1f}x vs the Tiny text protocol, "
          f"{binary_s / staged_s:.1f}x vs the binary protocol (goal >= 20x vs text)")


if __name__ == "__main__":
    main()

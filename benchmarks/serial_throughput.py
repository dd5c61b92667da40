#!/usr/bin/env python3
"""Bytes per second of the binary protocol vs the MLPerf Tiny text mode vs the line rate, on the
same link: the reference firmware under QEMU behind a simulated UART (a pty paced at BAUD, 8N1).

    binary  model upload (LOAD_CHUNK frames in a window of 4, verified by CRC-32)
    text    `db load N%` + `db <hex>%` of 31 bytes each, as the MLPerf Tiny runner loads an input
    line    baud / 10 (8 data bits, start and stop bits)

Usage: .venv/bin/python benchmarks/serial_throughput.py [--baud 115200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.deadline import Deadline
from harness.runners.fwclient import FirmwareClient
from harness.runners.mlperf_tiny import TinyClient
from harness.transports import open_transport
from harness.testing.linesim import LineRelay

MODEL = Path(__file__).resolve().parent.parent / "models" / "digits-cnn" / "int8.tflite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args()
    model = MODEL.read_bytes()
    line_rate = args.baud / 10.0
    board = open_transport("qemu://mps2-an385", qemu={"icount_shift": 3})
    board.open(Deadline(300))
    with tempfile.TemporaryDirectory() as tmp:
        relay = LineRelay(board, Path(tmp) / "by-id" / "usb-sim-if00", baud=args.baud)
        relay.start()
        host = open_transport(f"serial://{relay.link}?baud={args.baud}")
        host.open(Deadline(10))
        try:
            client = FirmwareClient(host, read_timeout=5.0)
            client.sync(Deadline(5))
            info = client.identify(Deadline(10))
            t0 = time.monotonic()
            crc = client.upload(0, model, int(info["max_data"]), Deadline(600))
            binary = len(model) / (time.monotonic() - t0)
            assert crc == __import__("zlib").crc32(model), "upload corrupted"
            client.call(0x0B, b"", Deadline(10))  # TEXT_MODE
            tiny = TinyClient(host)
            size = 64  # the digits model input; `db load` fills the input tensor
            t0, sent = time.monotonic(), 0
            while time.monotonic() - t0 < 10.0:
                tiny.load(model[sent % 4096:sent % 4096 + size], Deadline(60))
                sent += size
            text = sent / (time.monotonic() - t0)
        finally:
            host.close()
            relay.stop()
            board.close()
    print(f"link: simulated UART at {args.baud} baud 8N1 (pty relay to QEMU mps2-an385)")
    print(f"line rate : {line_rate:10.0f} B/s  100.0%")
    print(f"binary    : {binary:10.0f} B/s  {100 * binary / line_rate:5.1f}%  (model upload, {len(model)} B)")
    print(f"text      : {text:10.0f} B/s  {100 * text / line_rate:5.1f}%  (MLPerf Tiny db commands)")


if __name__ == "__main__":
    main()

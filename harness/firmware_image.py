"""The model partition image the reference firmware finds at boot (docs/protocol.md, "Models in
flash"): a 16-byte header — magic "EHMD" and the model's length, little-endian, 8 bytes
reserved — then the .tflite bytes. The reserved bytes carry the MLPerf Tiny tag: the benchmark
id (NUL-padded, at most 7 characters) and the Tiny mode, b"p" performance or b"e" energy, so a
board in text mode answers `m-model-[kws01]` and converts its input as kws01's firmware does. esptool writes it to an ESP32's `model` partition; QEMU's
`-device loader` puts the same bytes in the emulated board's PSRAM, so CI boots the format
the flashed boards boot."""

from __future__ import annotations

import struct
from pathlib import Path

from harness.errors import ConfigError

MAGIC = 0x444D4845  # b"EHMD" read little-endian
HEADER = struct.Struct("<II7sc")
TINY_MODES = {"performance": b"p", "energy": b"e"}


def tiny_tag(benchmark: str | None, mode: str = "performance") -> tuple[bytes, bytes]:
    if benchmark is None:
        return b"", b"\0"
    if not (0 < len(benchmark) <= 7 and benchmark.isascii() and benchmark.isalnum()):
        raise ConfigError(f"MLPerf Tiny benchmark id {benchmark!r}: 1 to 7 letters and digits (kws01, vww01, ...)")
    if mode not in TINY_MODES:
        raise ConfigError(f"MLPerf Tiny mode {mode!r}: one of {', '.join(TINY_MODES)}")
    return benchmark.encode(), TINY_MODES[mode]


def partition_image(model: bytes, benchmark: str | None = None, mode: str = "performance") -> bytes:
    return HEADER.pack(MAGIC, len(model), *tiny_tag(benchmark, mode)) + model


def write_partition_image(model_path: Path, out: Path, benchmark: str | None = None,
                          mode: str = "performance") -> Path:
    out.write_bytes(partition_image(model_path.read_bytes(), benchmark, mode))
    return out

"""The model partition image the reference firmware finds at boot (docs/protocol.md, "Models in
flash"): a 16-byte header — magic "EHMD" and the model's length, little-endian, 8 bytes
reserved — then the .tflite bytes. esptool writes it to an ESP32's `model` partition; QEMU's
`-device loader` puts the same bytes in the emulated board's PSRAM, so CI boots the format
the flashed boards boot."""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = 0x444D4845  # b"EHMD" read little-endian
HEADER = struct.Struct("<II8x")


def partition_image(model: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(model)) + model


def write_partition_image(model_path: Path, out: Path) -> Path:
    out.write_bytes(partition_image(model_path.read_bytes()))
    return out

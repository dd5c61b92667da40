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


# ------------------------------------------------------------ firmware ELF (GDB deploy)

ELF_MAGIC = b"\x7fELF"
BUILD_SYMBOL = b"fw_build_id"  # firmware/core/binary.c: the build id IDENTIFY reports


def elf_segments(path: Path) -> list[tuple[int, bytes]]:
    """(load address, bytes) of each loadable segment of a 32-bit little-endian ELF, as a probe
    writes them: physical addresses, so initialised data lands in flash behind the code."""
    data = path.read_bytes()
    if data[:4] != ELF_MAGIC or data[4] != 1 or data[5] != 1:
        raise ValueError(f"{path} is not a 32-bit little-endian ELF file")
    phoff, = struct.unpack_from("<I", data, 28)
    phentsize, phnum = struct.unpack_from("<HH", data, 42)
    segments = []
    for i in range(phnum):
        p_type, p_offset, _vaddr, p_paddr, p_filesz = struct.unpack_from("<5I", data, phoff + i * phentsize)
        if p_type == 1 and p_filesz:  # PT_LOAD
            segments.append((p_paddr, data[p_offset:p_offset + p_filesz]))
    if not segments:
        raise ValueError(f"{path} has no loadable segment")
    return segments


def elf_build_id(path: Path) -> str | None:
    """The firmware's build id (the `fw_build_id` string), or None for an ELF without it."""
    data = path.read_bytes()
    shoff, = struct.unpack_from("<I", data, 32)
    shentsize, shnum = struct.unpack_from("<HH", data, 46)
    sections = [struct.unpack_from("<10I", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], 16):
            name, value, size, _info, _other, shndx = struct.unpack_from("<IIIBBH", data, off)
            end = data.index(b"\0", strtab[4] + name)
            if data[strtab[4] + name:end] != BUILD_SYMBOL or shndx >= len(sections):
                continue
            target = sections[shndx]  # the symbol's bytes in its section's file image
            start = target[4] + value - target[3]
            return data[start:start + size].rstrip(b"\0").decode(errors="replace")
    return None

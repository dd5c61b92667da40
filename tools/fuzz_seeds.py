#!/usr/bin/env python3
"""Seed corpora for the firmware fuzzers (firmware/fuzz/): the repo's models and the protocol's
own exchanges, written as each target reads its input.

    python tools/fuzz_seeds.py OUT      -> OUT/model/ OUT/frames/ OUT/text/

model   every .tflite under models/ and tests/data/ up to 256 KiB (the fuzz slot's size)
frames  a harness session (identify, upload, input, RUN, GET_OUTPUT, EVAL, MEMORY, TEXT_MODE)
        as command records (first byte 0) and as raw wire bytes from harness/runners/frames.py
        (first byte 1); see firmware/fuzz/fuzz_frames.c
text    the MLPerf Tiny monitor commands of docs/protocol.md
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.runners import frames  # noqa: E402
from harness.runners.frames import Cmd, Frame  # noqa: E402

SLOT_BYTES = 256 << 10
MAX_DATA = 1024
TINY = REPO / "models" / "digits-cnn" / "tiny-int8.tflite"


def models() -> list[Path]:
    found = sorted([*REPO.glob("models/**/*.tflite"), *REPO.glob("tests/data/**/*.tflite")])
    return [p for p in found if p.stat().st_size <= SLOT_BYTES]


def session(model: bytes, input_bytes: int) -> list[tuple[int, bytes]]:
    """The commands FirmwareRunner sends to measure `model` (harness/runners/fwclient.py)."""
    step = MAX_DATA - 8
    commands = [(Cmd.IDENTIFY, b""), (Cmd.SLOT_INFO, bytes(1)),
                (Cmd.LOAD_BEGIN, struct.pack("<B3xI", 0, len(model)))]
    commands += [(Cmd.LOAD_CHUNK, struct.pack("<B3xI", 0, off) + model[off:off + step])
                 for off in range(0, len(model), step)]
    sample = bytes(range(256)) * (input_bytes // 256 + 1)
    commands += [(Cmd.LOAD_END, struct.pack("<B3xI", 0, len(model))),
                 (Cmd.SET_INPUT, struct.pack("<I", 0) + sample[:input_bytes]),
                 (Cmd.RUN, struct.pack("<II", 1, 3)), (Cmd.PROFILE, struct.pack("<I", 0)),
                 (Cmd.PROFILE, struct.pack("<I", 1)), (Cmd.GET_OUTPUT, struct.pack("<IH", 0, 10)),
                 (Cmd.EVAL, struct.pack("<I", 7) + sample[:input_bytes]), (Cmd.MEMORY, b""),
                 (Cmd.TEXT_MODE, b"")]
    return commands


def records(commands: list[tuple[int, bytes]]) -> bytes:
    return b"\x00" + b"".join(struct.pack("<BH", cmd, len(data)) + data for cmd, data in commands)


def wire(commands: list[tuple[int, bytes]]) -> bytes:
    return b"\x01\x00" + b"".join(frames.encode(Frame(cmd, seq + 1, data))
                                  for seq, (cmd, data) in enumerate(commands))


TEXT = [b"name%", b"profile%", b"help%", b"timestamp%", b"results%", b"%",
        b"db load 784%db " + bytes(range(16)).hex().encode() + b"%infer 1 0%results%",
        b"db load 4%db 0a0B0c0D%infer 2 1%", b"infer 3%", b"db%", b"db 123%", b"bogus command%"]


def main(out: Path) -> None:
    for sub in ("model", "frames", "text"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(models()):
        shutil.copyfile(path, out / "model" / f"{i:02d}-{path.name}")
    tiny = TINY.read_bytes()
    full, short = session(tiny, 784), session(tiny, 784)[:2] + session(tiny, 784)[-6:]
    for name, commands in (("session", full), ("no-upload", short)):
        (out / "frames" / f"{name}.records").write_bytes(records(commands))
        (out / "frames" / f"{name}.wire").write_bytes(wire(commands))
    for i, text in enumerate(TEXT):
        (out / "text" / f"{i:02d}.txt").write_bytes(text)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: fuzz_seeds.py OUT")
    main(Path(sys.argv[1]))

"""The binary frame codec of docs/protocol.md: COBS delimiting, header, CRC-32.

    wire   = COBS(packet) 0x00
    packet = version:u8 type:u8 seq:u16 status:u8 rsvd:u8 length:u16 data[length] crc32:u32

Pure functions plus an incremental `FrameReader`; no I/O here.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("<BBHBBH")
REPLY = 0x80
NAK = 0x7F
OVERHEAD = HEADER.size + 4 + 2  # header, CRC, COBS code byte and delimiter (per frame, <254 B)


class Cmd:
    IDENTIFY = 0x01
    LOAD_BEGIN = 0x02
    LOAD_CHUNK = 0x03
    LOAD_END = 0x04
    SLOT_INFO = 0x05
    SET_INPUT = 0x06
    RUN = 0x07
    GET_OUTPUT = 0x08
    MEMORY = 0x09
    EVAL = 0x0A
    TEXT_MODE = 0x0B
    EVAL_MEM = 0x0C
    SLOT_HASH = 0x0D
    PROFILE = 0x0E


class Status:
    OK = 0
    BAD_FRAME = 1
    UNKNOWN_CMD = 2
    BAD_ARG = 3
    TOO_BIG = 4
    NO_MODEL = 5
    MODEL = 6
    ARENA = 7
    INVOKE = 8

    NAMES = {0: "OK", 1: "BAD_FRAME", 2: "UNKNOWN_CMD", 3: "BAD_ARG", 4: "TOO_BIG",
             5: "NO_MODEL", 6: "MODEL", 7: "ARENA", 8: "INVOKE"}


class FrameError(ValueError):
    """A frame that cannot be decoded: bad COBS, bad length, wrong version or CRC."""


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    data: bytes = b""
    status: int = 0

    @property
    def is_reply(self) -> bool:
        return bool(self.type & REPLY) and self.type != NAK


def crc32(data: bytes) -> int:
    """CRC-32 (IEEE 802.3, reflected, as zlib and the firmware's crc32.c compute it)."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
            continue
        block.append(byte)
        if len(block) == 254:
            out.append(255)
            out += block
            block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0 or i + code > n:
            raise FrameError("COBS: bad code byte")
        block = data[i + 1:i + code]
        if 0 in block:
            raise FrameError("COBS: zero byte inside a block")
        out += block
        i += code
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


def encode(frame: Frame) -> bytes:
    """The frame as it goes on the wire, delimiters included."""
    packet = HEADER.pack(VERSION, frame.type, frame.seq & 0xFFFF, frame.status, 0, len(frame.data))
    packet += frame.data
    packet += struct.pack("<I", crc32(packet))
    return b"\x00" + cobs_encode(packet) + b"\x00"


def decode(encoded: bytes) -> Frame:
    """One frame from the bytes between two delimiters; FrameError when it is damaged."""
    packet = cobs_decode(encoded)
    if len(packet) < HEADER.size + 4:
        raise FrameError(f"frame of {len(packet)} bytes is shorter than a header")
    version, ftype, seq, status, _, length = HEADER.unpack_from(packet)
    if len(packet) != HEADER.size + length + 4:
        raise FrameError(f"length field {length} disagrees with a frame of {len(packet)} bytes")
    (crc,) = struct.unpack_from("<I", packet, len(packet) - 4)
    if crc != crc32(packet[:-4]):
        raise FrameError("CRC mismatch")
    if version != VERSION:
        raise FrameError(f"protocol version {version}, expected {VERSION}")
    return Frame(ftype, seq, bytes(packet[HEADER.size:HEADER.size + length]), status)


class FrameReader:
    """Feeds raw bytes, yields decoded frames; damaged frames are counted and remembered."""

    MAX_JUNK = 1 << 16  # a stream with no delimiter for this long is not ours

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.bad_frames = 0
        self.saw_boot = False  # the firmware's boot banner went past: the board reset

    def feed(self, data: bytes) -> list[Frame]:
        frames = []
        self._buffer += data
        while True:
            end = self._buffer.find(0)
            if end < 0:
                if len(self._buffer) > self.MAX_JUNK:
                    del self._buffer[:-1024]
                return frames
            chunk = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if not chunk:
                continue
            if b"m-init-done" in chunk:
                self.saw_boot = True
                continue
            try:
                frames.append(decode(chunk))
            except FrameError:
                self.bad_frames += 1

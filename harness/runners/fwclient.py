"""Client of the firmware's binary protocol (docs/protocol.md) over any StreamTransport.

Commands go out in a window of `window` frames; replies are matched by sequence number. Loss is
recovered by go-back-N (every command is idempotent): on a NAK, on a damaged reply, or when the
oldest outstanding command has waited its work allowance plus the retransmission timeout, every
outstanding command is resent. Duplicate replies are dropped, so each command yields exactly one
result.

The retransmission timeout follows the link's measured round trips (harness/rto.py, RFC 6298):
`read_timeout` is only its value before the first reply. A timeout that fires doubles it, so a
board slowed by a busy controller is given time instead of a storm of duplicates that overflows
its receive ring; a NAK that arrives within one round trip of a resend answers the frames sent
before it and triggers no second resend. The link is declared broken after MAX_RETRANSMITS
rounds without any reply (23 s from a 1 s RTO with a 4 s ceiling).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Sequence

from harness.deadline import Deadline
from harness.errors import DeviceError, InfrastructureError, ModelError
from harness.rto import RetransmitTimer
from harness.runners import frames
from harness.runners.frames import Cmd, Frame, Status
from harness.transports.base import StreamTransport

PROTOCOL_VERSION = 1
MAX_RETRANSMITS = 6  # back-off rounds without any reply before the link is declared broken
MIN_RTO_S = 1.0      # RFC 6298's floor: a busy controller's hiccups reach 0.7 s (a shorter
                     # read_timeout in a profile lowers it)
MAX_RTO_S = 4.0      # or twice a profile's read_timeout: a default profile (5 s) tolerates
                     # 45 s of silence, as nine fixed 5 s timeouts did
LOAD_WORK_S = 30.0   # LOAD_END: the firmware's CRC and engine load of a large model


PROFILE_HEADER = 28  # clock:u8 rsvd[3] hz run ops whole first count (u32 each)


@dataclass
class OpTimes:
    """A PROFILE: each operator's time and the whole invoke's, read from one clock."""

    clock: str       # "cycles" (the core's cycle counter: DWT CYCCNT) or "timer" (the board timer)
    hz: int          # the clock's rate
    ops: int
    whole: int       # the whole invoke, in ticks of the same clock
    ticks: list[int]  # per operator, in execution order


class BoardReset(InfrastructureError):
    """The board rebooted (boot banner seen, or its model is gone): its state is lost."""


@dataclass
class _Pending:
    index: int
    frame: Frame
    sent_at: float
    sends: int = 1


class FirmwareClient:
    def __init__(self, transport: StreamTransport, read_timeout: float = 5.0, window: int = 4) -> None:
        self.transport = transport
        self.read_timeout = read_timeout
        self.window = window
        self.reader = frames.FrameReader()
        self.rto = RetransmitTimer(initial=read_timeout, minimum=min(MIN_RTO_S, read_timeout),
                                   maximum=max(MAX_RTO_S, 2 * read_timeout))
        self._seq = 0
        self.retransmits = 0  # frames resent, for diagnostics

    # ------------------------------------------------------------ requests

    def call(self, cmd: int, data: bytes, deadline: Deadline, work: float = 0.0) -> bytes:
        """One command; its reply data, or the error its status maps to."""
        return self.stream([(cmd, data)], deadline, work)[0]

    def stream(self, commands: Sequence[tuple[int, bytes]], deadline: Deadline,
               work: float = 0.0) -> list[bytes]:
        """Many commands, pipelined; the reply data of each, in order. `work`: seconds the
        board may compute on one command (a RUN batch) on top of the link's timeout."""
        replies: list[Frame | None] = [None] * len(commands)
        outstanding: dict[int, _Pending] = {}
        next_index, done, stalls = 0, 0, 0
        # The board answers in order, so a command's clock starts when it was sent or when the
        # reply before it came, whichever is later: what a window of frames queued on a slow
        # line waits for the ones ahead of it is not the link's round trip.
        last_reply = 0.0
        while done < len(commands):
            while len(outstanding) < self.window and next_index < len(commands):
                cmd, data = commands[next_index]
                frame = Frame(cmd, self._next_seq(), data)
                outstanding[frame.seq] = _Pending(next_index, frame, time.monotonic())
                self.transport.write(frames.encode(frame), deadline)
                next_index += 1
            oldest = max(min(p.sent_at for p in outstanding.values()), last_reply)
            expires = oldest + work + self.rto.timeout
            got, damaged = self._receive(deadline, expires)
            progressed = False
            for frame in got:
                pending = outstanding.pop(frame.seq, None) if frame.is_reply else None
                if pending is not None and frame.type == pending.frame.type | frames.REPLY:
                    replies[pending.index] = frame
                    done, progressed = done + 1, True
                    now = time.monotonic()
                    if pending.sends == 1 and not work:  # Karn: a resent command's reply is ambiguous
                        self.rto.sample(now - max(pending.sent_at, last_reply))
                    last_reply = now
                elif pending is not None:  # a reply of another type with this seq: stale
                    outstanding[frame.seq] = pending
                elif frame.type == frames.NAK:
                    damaged = True
            if self.reader.saw_boot:
                self.reader.saw_boot = False
                raise BoardReset(f"{self.transport.url}: the board reset (boot banner seen)")
            if progressed:
                stalls = 0
            now = time.monotonic()
            timed_out = now >= expires
            # Damage reported within a round trip of the last resend is about the earlier copies.
            echo = damaged and now - oldest < (self.rto.srtt or 0.0)
            if outstanding and (timed_out or (damaged and not echo)):
                if timed_out:
                    self.rto.expired()
                if not progressed:
                    stalls += 1
                if stalls > MAX_RETRANSMITS:
                    raise InfrastructureError(
                        f"{self.transport.url}: no valid reply after {MAX_RETRANSMITS} retransmissions "
                        f"({self.reader.bad_frames} damaged frames; {self.rto.describe()})")
                self._resend(outstanding, deadline)
            deadline.check(f"{self.transport.url}: waiting for the firmware")
        return [self._check(commands[i][0], f) for i, f in enumerate(replies) if f is not None]

    def _receive(self, deadline: Deadline, until: float) -> tuple[list[Frame], bool]:
        """Frames read before `until`; True when a damaged frame went past."""
        bad_before = self.reader.bad_frames
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return [], False
            data = self.transport.read(65536, deadline.sub(remaining))
            got = self.reader.feed(data) if data else []
            damaged = self.reader.bad_frames > bad_before
            if got or damaged or self.reader.saw_boot:
                return got, damaged
            if not data and deadline.expired:
                return [], False

    def _resend(self, outstanding: dict[int, _Pending], deadline: Deadline) -> None:
        now = time.monotonic()
        for pending in sorted(outstanding.values(), key=lambda p: p.index):
            pending.sent_at, pending.sends = now, pending.sends + 1
            self.retransmits += 1
            self.transport.write(frames.encode(pending.frame), deadline)

    def _next_seq(self) -> int:
        self._seq = self._seq % 0xFFFF + 1  # 1..65535; 0 is the NAK's
        return self._seq

    def _check(self, cmd: int, frame: Frame) -> bytes:
        if frame.status == Status.OK:
            return frame.data
        name = Status.NAMES.get(frame.status, str(frame.status))
        message = frame.data.decode(errors="replace").strip() or name
        if cmd == Cmd.LOAD_END and len(frame.data) >= 4:
            message = frame.data[4:].decode(errors="replace").strip() or name
        where = f"{self.transport.url}: firmware"
        if frame.status == Status.NO_MODEL:
            raise BoardReset(f"{where} has no model loaded (it reset)")
        if frame.status in (Status.MODEL, Status.INVOKE):
            raise ModelError(f"{where}: {message}")
        if frame.status in (Status.ARENA, Status.TOO_BIG):
            raise DeviceError(f"{where}: {message}")
        raise InfrastructureError(f"{where} answered {name} to command 0x{cmd:02x}: {message}")

    # ------------------------------------------------------------ typed commands

    def sync(self, deadline: Deadline, quiet: float = 0.3) -> None:
        """Discards what the board printed unasked (a boot banner still on its way), then a
        delimiter: switches a text-mode firmware to binary and ends any partial frame."""
        while self.transport.read(65536, deadline.sub(quiet)):
            pass
        self.reader = frames.FrameReader()
        self.transport.write(b"\x00", deadline)

    def identify(self, deadline: Deadline) -> dict[str, str]:
        text = self.call(Cmd.IDENTIFY, b"", deadline).decode(errors="replace")
        info = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        if info.get("protocol") != str(PROTOCOL_VERSION):
            raise InfrastructureError(
                f"{self.transport.url}: firmware speaks protocol {info.get('protocol')!r}, "
                f"this harness speaks {PROTOCOL_VERSION} (docs/protocol.md)")
        return info

    def slot_info(self, slot: int, deadline: Deadline) -> tuple[bool, int, int]:
        loaded, length, crc = struct.unpack("<B3xII", self.call(Cmd.SLOT_INFO, bytes([slot]), deadline))
        return bool(loaded), length, crc

    def slot_sha256(self, deadline: Deadline) -> str:
        """The SHA-256 (hex) of the bytes the model slot holds, computed by the firmware."""
        return self.call(Cmd.SLOT_HASH, b"", deadline, work=30.0).hex()

    def upload(self, slot: int, model: bytes, max_data: int, deadline: Deadline) -> int:
        """Model bytes into a slot; returns the CRC-32 the firmware computed over them."""
        self.call(Cmd.LOAD_BEGIN, struct.pack("<B3xI", slot, len(model)), deadline)
        step = max_data - 8
        chunks = [(Cmd.LOAD_CHUNK, struct.pack("<B3xI", slot, off) + model[off:off + step])
                  for off in range(0, len(model), step)]
        self.stream(chunks, deadline)
        reply = self.call(Cmd.LOAD_END, struct.pack("<B3xI", slot, len(model)), deadline,
                          work=LOAD_WORK_S)
        return struct.unpack_from("<I", reply)[0]

    def set_input(self, data: bytes, max_data: int, deadline: Deadline) -> None:
        step = max_data - 4
        self.stream([(Cmd.SET_INPUT, struct.pack("<I", off) + data[off:off + step])
                     for off in range(0, len(data), step)], deadline)

    def run(self, warmup: int, count: int, deadline: Deadline, work: float) -> list[int]:
        reply = self.call(Cmd.RUN, struct.pack("<II", warmup, count), deadline, work)
        (n,) = struct.unpack_from("<I", reply)
        return list(struct.unpack_from(f"<{n}I", reply, 4))

    def profile(self, deadline: Deadline, work: float) -> OpTimes:
        """One inference with each operator timed by the board (PROFILE, docs/protocol.md): the
        first reply runs it, further ones page through its operators; all must be of one run."""
        def page(first: int) -> tuple[OpTimes, int, list[int]]:
            reply = self.call(Cmd.PROFILE, struct.pack("<I", first), deadline, work if first == 0 else 0.0)
            clock, hz, run, ops, whole, at, count = struct.unpack_from("<B3x6I", reply)
            ticks = list(struct.unpack_from(f"<{count}I", reply, PROFILE_HEADER))
            if at != first or (count == 0 and at < ops):
                raise InfrastructureError(f"{self.transport.url}: PROFILE page {first} answered as {at} ({count} ops)")
            return OpTimes("cycles" if clock == 1 else "timer", hz, ops, whole, []), run, ticks

        times, run, ticks = page(0)
        while len(ticks) < times.ops:
            _, run_now, more = page(len(ticks))
            if run_now != run:  # the board ran another profile in between (a reset, another host)
                raise InfrastructureError(f"{self.transport.url}: PROFILE pages of different runs ({run}, {run_now})")
            ticks += more
        times.ticks = ticks
        return times

    def get_output(self, size: int, max_data: int, deadline: Deadline) -> bytes:
        parts = self.stream([(Cmd.GET_OUTPUT, struct.pack("<IH", off, min(max_data, size - off)))
                             for off in range(0, size, max_data)], deadline)
        return b"".join(parts)

    def memory(self, deadline: Deadline) -> dict[str, int]:
        keys = ("arena_used", "arena_size", "model_bytes", "free_heap", "input_bytes", "output_bytes")
        return dict(zip(keys, struct.unpack_from("<6I", self.call(Cmd.MEMORY, b"", deadline))))

    def eval_stream(self, samples: Sequence[tuple[int, bytes]], deadline: Deadline,
                    work: float) -> list[tuple[int, int, bytes]]:
        """(index, input) pairs streamed back to back; (index, argmax, output) for each."""
        replies = self.stream([(Cmd.EVAL, struct.pack("<I", i) + x) for i, x in samples], deadline, work)
        out = []
        for reply in replies:
            index, argmax = struct.unpack_from("<IH2x", reply)
            out.append((index, argmax, reply[8:]))
        return out

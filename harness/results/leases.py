"""Leases in the store: who measures a run, or a board, right now.

A lease is a row (kind, name) -> run, holder token, pid, controller host, heartbeat. The holder
renews its heartbeat every HEARTBEAT_S. A lease is alive while its heartbeat is younger than
STALE_S and, when it was taken on this host, its process still exists (so a run killed here is
taken over at once; one killed on another controller after STALE_S). A live lease is refused
with who holds it; a dead one is taken over. The primary key makes two takers race safely: one
insert wins, the other is refused.

    run lease    kind "run", name = the run id: `--resume RUN` while RUN is measured elsewhere
    board lease  kind "board", name = the device name; for a board attached to its controller
                 (local://, qemu://, a serial device path) "name@host", since two controllers'
                 `host` boards are two machines
"""

from __future__ import annotations

import logging
import os
import platform
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import psutil
import sqlalchemy as sa

from harness.errors import StoreError
from harness.results.store import Store, leases, now

HEARTBEAT_S = 10.0
STALE_S = 60.0
_ATTACHED = ("local:", "qemu:", "serial:")  # boards that belong to the controller they hang on
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holder:
    run_id: str
    pid: int
    host: str
    heartbeat_age_s: float

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host} (run {self.run_id}, heartbeat {self.heartbeat_age_s:.0f} s ago)"


def board_lease_name(device: str, transport: str | None) -> str:
    attached = transport is None or transport.startswith(_ATTACHED)
    return f"{device}@{platform.node()}" if attached else device


class Leases:
    """The leases one process holds in one store, renewed by a heartbeat thread until released."""

    def __init__(self, store: Store, on_lost: Callable[[str], None] | None = None) -> None:
        self.store, self.on_lost = store, on_lost
        self.token = secrets.token_hex(16)
        self.host, self.pid = platform.node(), os.getpid()
        self.held: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def holder(self, kind: str, name: str) -> Holder | None:
        """Who holds this lease, if anyone alive does (this process's own leases excluded)."""
        row = self._row(kind, name)
        return None if row is None or row["holder"] == self.token or not _alive(row) else _holder(row)

    def acquire(self, kind: str, name: str, run_id: str) -> Holder | None:
        """Take the lease (taking over a dead holder's); the live holder when refused."""
        def write(conn: sa.Connection) -> dict[str, Any] | None:
            key = (leases.c.kind == kind, leases.c.name == name)
            found = conn.execute(sa.select(leases).where(*key)).first()
            if found is not None:
                row = dict(found._mapping)
                if row["holder"] != self.token and _alive(row):
                    return row
                conn.execute(leases.delete().where(*key, leases.c.holder == row["holder"]))
                if row["holder"] != self.token:
                    log.warning("%s lease %s: taking over from %s, which is gone", kind, name, _holder(row))
            stamp = now()
            conn.execute(leases.insert().values(kind=kind, name=name, run_id=run_id, holder=self.token,
                                                pid=self.pid, host=self.host, acquired_at=stamp,
                                                heartbeat_at=stamp))
            return None

        try:
            refused = self.store.transaction(write)
        except StoreError as exc:
            if "duplicate" not in str(exc):
                raise
            refused = self._row(kind, name)  # another taker won the race
        if refused is not None:
            return _holder(refused)
        self.held.add((kind, name))
        self._start()
        return None

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.held:
            self.store.transaction(lambda conn: conn.execute(leases.delete().where(leases.c.holder == self.token)))
            self.held.clear()

    def beat(self) -> None:
        """Renew every held lease; a lease someone else took over is reported, not renewed."""
        def write(conn: sa.Connection) -> list[tuple[str, str]]:
            lost = []
            for kind, name in sorted(self.held):
                updated = conn.execute(leases.update().where(
                    leases.c.kind == kind, leases.c.name == name, leases.c.holder == self.token)
                    .values(heartbeat_at=now()))
                if updated.rowcount == 0:
                    lost.append((kind, name))
            return lost

        for kind, name in self.store.transaction(write):
            self.held.discard((kind, name))
            message = f"{kind} lease {name} was taken over by another controller"
            log.error(message)
            if self.on_lost:
                self.on_lost(message)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.beat()
            except StoreError as exc:  # the store blinked: the next beat tries again
                log.warning("lease heartbeat: %s", exc)

    def _row(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.store.rows(sa.select(leases).where(leases.c.kind == kind, leases.c.name == name))
        return found[0] if found else None


def _age_s(row: dict[str, Any]) -> float:
    beat = row["heartbeat_at"]
    beat = beat.replace(tzinfo=timezone.utc) if beat.tzinfo is None else beat
    return (datetime.now(timezone.utc) - beat).total_seconds()


def _alive(row: dict[str, Any]) -> bool:
    if _age_s(row) > STALE_S:
        return False
    if row["host"] == platform.node():  # here we can ask the kernel
        return psutil.pid_exists(row["pid"])
    return True


def _holder(row: dict[str, Any]) -> Holder:
    return Holder(row["run_id"], row["pid"], row["host"], max(0.0, _age_s(row)))

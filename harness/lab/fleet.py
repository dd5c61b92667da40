"""Several boards at once: one worker thread per board, each board one case at a time.

Boards are independent, so a suite over N boards takes about as long as its slowest board.
Workers only wait on I/O (a subprocess, SSH, a UART), so threads are enough; the store
serializes writes (SQLite busy timeout, PostgreSQL transactions).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from harness.lab.health import BoardState
from harness.config.profiles import DeviceProfile
from harness.runners.base import Runner
from harness.lab.session import PlannedCase, Progress, run_device
from harness.results.store import Store
from harness.config.suites import Suite


@dataclass
class Board:
    profile: DeviceProfile
    planned: list[PlannedCase]
    state: BoardState
    connect: Callable[[], Runner]
    progress: Progress | None = None
    error: BaseException | None = field(default=None, init=False)


def run_boards(store: Store, run_id: str, suite: Suite, boards: list[Board]) -> None:
    """Run every board's cases in parallel; a board's failure never stops the others."""
    stop = threading.Event()

    def work(board: Board) -> None:
        try:
            run_device(store, run_id, suite, board.profile, board.connect, board.planned,
                       board.state, board.progress, stop)
        except BaseException as exc:  # recorded and re-raised after every board finished
            board.error = exc
            if not isinstance(exc, Exception):
                stop.set()  # KeyboardInterrupt: let the other boards stop between cases

    with ThreadPoolExecutor(max_workers=max(1, len(boards)), thread_name_prefix="board") as pool:
        list(pool.map(work, boards))
    for board in boards:
        if board.error is not None:
            raise board.error

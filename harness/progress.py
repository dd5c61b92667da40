"""Progress for long report-side commands: silent when the work takes under 2 s, then one line
per step on stderr (a CI log keeps them; a terminal shows what is taking the time)."""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

Step = Callable[[str], None]  # what the renderers call: step("scoring")


def quiet(_: str) -> None:
    """The step callback of callers that want no output (tests, the Python API)."""


class Progress:
    """with Progress("white paper") as step: step("scoring"); ... — nothing printed unless the
    block is still running `after` seconds in; then the current step and every later one."""

    def __init__(self, label: str, after: float = 2.0, stream: TextIO | None = None) -> None:
        self.label, self.after, self.stream = label, after, stream or sys.stderr
        self.current, self.shown, self.began = "starting", False, time.monotonic()
        self._lock = threading.Lock()
        self._timer = threading.Timer(after, self._show)
        self._timer.daemon = True

    def __enter__(self) -> Step:
        self.began = time.monotonic()
        self._timer.start()
        return self.step

    def __exit__(self, kind: object, *_: object) -> None:
        self._timer.cancel()
        with self._lock:
            if self.shown and kind is None:
                self._write(f"done in {time.monotonic() - self.began:.1f} s")

    def step(self, name: str) -> None:
        with self._lock:
            self.current = name
            if self.shown:
                self._write(name)

    def _show(self) -> None:
        with self._lock:
            self.shown = True
            self._write(f"{self.current}…")

    def _write(self, text: str) -> None:
        elapsed = time.monotonic() - self.began
        print(f"{self.label} [{elapsed:5.1f} s] {text}", file=self.stream, flush=True)

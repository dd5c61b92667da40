"""Progress lines: none for quick work, the current and later steps once it takes longer."""

from __future__ import annotations

import io
import time

from harness.progress import Progress


def test_quick_work_prints_nothing() -> None:
    out = io.StringIO()
    with Progress("paper", after=5.0, stream=out) as step:
        step("scoring")
    assert out.getvalue() == ""


def test_slow_work_shows_the_current_step_then_each_next_one() -> None:
    out = io.StringIO()
    with Progress("paper", after=0.05, stream=out) as step:
        step("scoring")
        deadline = time.monotonic() + 10
        while "scoring" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        step("PDF")
    lines = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines][:2] == ["scoring…", "PDF"]
    assert lines[-1].startswith("paper [") and "done in" in lines[-1]

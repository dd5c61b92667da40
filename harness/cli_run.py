"""`harness run`: plan, measure with a live progress bar per model family, summarize, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import profiles as profile_mod
from harness.cli_views import console, results_table
from harness.connect import open_runner
from harness.deadline import Deadline
from harness.session import PlannedCase, plan, run_suite
from harness.store import Store
from harness.suites import load_suite

CONNECT_TIMEOUT_S = 300.0


class FamilyBars:
    """One rich progress bar per model family; the current variant in its description."""

    def __init__(self, progress: Progress, planned: list[PlannedCase]) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        for item in planned:
            family = item.case.family
            if family not in self.tasks:
                total = sum(1 for p in planned if p.case.family == family)
                self.tasks[family] = progress.add_task(family, total=total)

    def case_started(self, item: PlannedCase) -> None:
        self.progress.update(self.tasks[item.case.family],
                             description=f"{item.case.family} [dim]{item.case.variant}[/dim]")

    def case_done(self, item: PlannedCase, row: dict[str, Any]) -> None:
        self.progress.advance(self.tasks[item.case.family])
        if row["status"] != "ok":
            self.progress.console.print(f"[yellow]{item.case.key}: {row['status']}[/yellow] {row['reason']}")


def run_command(suite_path: Path, device_name: str, store_url: str | None, out: Path | None,
                resume: str | None, profiles_dir: Path | None) -> int:
    suite = load_suite(suite_path)
    device = profile_mod.resolve(device_name, profiles_dir)
    planned = plan(suite, device)  # every bad input fails here, before anything is written
    store = Store(store_url)
    if resume:
        store.run(resume)  # refuses an unknown run id
    runner = open_runner(device, Deadline(CONNECT_TIMEOUT_S))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            run_id = run_suite(suite, device, store, runner, planned, run_id=resume,
                               progress=FamilyBars(progress, planned))
    finally:
        runner.close()
    rows = store.results(run_id)
    results_table(rows, f"{suite.name} on {device.name} — run {run_id}")
    console.print(f"run id: {run_id}   store: {store.url}")
    if out is not None:
        from harness.report.render import render_run_report

        console.print(f"report: {render_run_report(store, run_id, out, profiles_dir)}")
    failed = any(r["status"] == "failed" or r["thresholds_passed"] is False for r in rows)
    return 1 if failed else 0

"""`harness run`: plan, measure with a live progress bar per model family, summarize, report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import baselines, ci_outputs, shard
from harness import profiles as profile_mod
from harness.cli_compare import baseline_comparison, print_comparison, write_text
from harness.cli_views import console, results_table
from harness.connect import open_runner
from harness.deadline import Deadline
from harness.errors import ConfigError
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


@dataclass(frozen=True)
class RunOutputs:
    """What CI adds to a run: a baseline to compare with, report files, a shard, a shared run id."""

    baseline: str | None = None
    junit: Path | None = None
    markdown: Path | None = None
    shard: str | None = None
    run_id: str | None = None


def run_command(suite_path: Path, device_name: str, store_url: str | None, out: Path | None,
                resume: str | None, profiles_dir: Path | None, extra: RunOutputs = RunOutputs()) -> int:
    shard_spec = shard.parse(extra.shard) if extra.shard else None
    if resume and extra.run_id:
        raise ConfigError("--resume and --run-id exclude each other: --resume names the run to go on with")
    suite = load_suite(suite_path)
    device = profile_mod.resolve(device_name, profiles_dir)
    planned = plan(suite, device)  # every bad input fails here, before anything is written
    if shard_spec:
        planned = shard.select(planned, [p.case.family for p in planned], shard_spec)
    store = Store(store_url)
    if extra.baseline not in (None, baselines.LAST_GOOD):  # `latest` means latest before this run
        extra = replace(extra, baseline=baselines.resolve(store, extra.baseline))
    if resume:
        store.run(resume)  # refuses an unknown run id
    elif extra.run_id and extra.run_id in {r["run_id"] for r in store.runs()}:
        raise ConfigError(f"--run-id {extra.run_id}: that run is already in {store.url}; use --resume")
    runner = open_runner(device, Deadline(CONNECT_TIMEOUT_S))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            run_id = run_suite(suite, device, store, runner, planned, run_id=resume or extra.run_id,
                               progress=FamilyBars(progress, planned), new_run=not resume and bool(extra.run_id))
    finally:
        runner.close()
    rows = store.results(run_id)
    results_table(rows, f"{suite.name} on {device.name} — run {run_id}")
    console.print(f"run id: {run_id}   store: {store.url}")
    if out is not None:
        from harness.report.render import render_run_report

        console.print(f"report: {render_run_report(store, run_id, out, profiles_dir)}")
    return ci_report(store, run_id, rows, extra)


def ci_report(store: Store, run_id: str, rows: list[dict[str, Any]], extra: RunOutputs) -> int:
    """Baseline comparison, JUnit and Markdown files; the exit code (see harness.ci_outputs)."""
    base_id, comparison = None, None
    if extra.baseline:
        base_id, comparison = baseline_comparison(store, run_id, extra.baseline)
        if comparison is not None:
            print_comparison(comparison, f"baseline {base_id} -> run {run_id}")
            if comparison.regressed:  # a regressed run is never anyone's last-good
                store.mark_run(run_id, "regressed")
    run = store.run(run_id)
    if extra.junit:
        write_text(extra.junit, ci_outputs.junit_xml(run, rows, comparison))
    if extra.markdown:
        write_text(extra.markdown, ci_outputs.markdown_summary(run, rows, comparison, base_id))
    return ci_outputs.exit_code(rows, comparison)

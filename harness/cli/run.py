"""`harness run`: plan, measure every board in parallel with live progress, summarize, report."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness import interrupts
from harness.results import baselines, ci_outputs, provenance
from harness.lab import conditions, shard
from harness.config import configfile
from harness.config import profiles as profile_mod
from harness.cli.compare import baseline_comparison, compare_stored, print_comparison, write_text
from harness.cli.views import console, results_table
from harness.lab.board import open_runner, preflight
from harness.deadline import Deadline
from harness.errors import ConfigError, StoreError
from harness.lab.fleet import Board, run_boards
from harness.lab.integrity import check_resume, claim
from harness.results.leases import Leases
from harness.masking import mask, mask_optional
from harness.config.profiles import DeviceProfile
from harness.results.regression import UNCHANGED, Criteria
from harness.runners.base import Runner
from harness.lab.session import CONNECT_TIMEOUT_S, PlannedCase, finish_run, initial_state, open_run, plan, remeasure
from harness.results.store import Store
from harness.config.suites import Suite
from harness.config.targets import load_targets


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
            self.progress.console.print(f"[yellow]{item.case.key}: {row['status']}[/yellow] {mask(str(row['reason']))}")


@dataclass(frozen=True)
class RunOutputs:
    """What CI adds to a run: a baseline to compare with, report files, a shard, a shared run id."""

    baseline: str | None = None
    junit: Path | None = None
    markdown: Path | None = None
    shard: str | None = None
    run_id: str | None = None
    repeat: int | None = None  # interleaved repetitions of every case (overrides the suite's run.repeat)
    rerun_suspects: bool = False  # re-measure cases whose latency moved against the baseline


RERUNS = 3  # --rerun-suspects: more measurements of each suspect case


class BoardBars:
    """With several boards: one rich progress bar per board, its current case and health."""

    def __init__(self, progress: Progress, board: str, planned: list[PlannedCase]) -> None:
        self.progress, self.board = progress, board
        self.task = progress.add_task(board, total=len(planned))

    def case_started(self, item: PlannedCase) -> None:
        self.progress.update(self.task, description=f"{self.board} [dim]{item.case.key}[/dim]")

    def case_done(self, item: PlannedCase, row: dict[str, Any]) -> None:
        self.progress.advance(self.task)
        if row["status"] != "ok":
            self.progress.console.print(
                f"[yellow]{self.board} {item.case.key}: {row['status']}[/yellow] {mask(str(row['reason']))}")


def run_command(targets: list[Path], device_names: list[str], store_url: str | None, out: Path | None,
                resume: str | None, profiles_dir: Path | None, extra: RunOutputs = RunOutputs(),
                force: bool = False) -> int:
    shard_spec = shard.parse(extra.shard) if extra.shard else None
    if resume and extra.run_id:
        raise ConfigError("--resume and --run-id exclude each other: --resume names the run to go on with")
    if extra.rerun_suspects and not extra.baseline:
        raise ConfigError("--rerun-suspects needs --baseline: suspects are the cases that moved against it")
    suite = load_targets(targets)
    if extra.repeat:
        suite = replace(suite, run=suite.run.model_copy(update={"repeat": extra.repeat}))
    devices = _devices(device_names, profiles_dir)
    plans = {d.name: plan(suite, d) for d in devices}  # every bad input fails here, before anything is written
    for device in devices:
        preflight(device)
    if shard_spec:
        plans = _shard(plans, shard_spec)
    store = Store(store_url)
    if extra.baseline not in (None, baselines.LAST_GOOD):  # `latest` means latest before this run
        extra = replace(extra, baseline=baselines.resolve(store, extra.baseline))
    changed = {}
    if resume:  # an unknown run id, another suite file or other boards are refused
        resume = baselines.resolve(store, resume)  # an id, a unique prefix or latest
        changed = check_resume(store.run(resume), suite, list(plans), force)
    elif extra.run_id and extra.run_id in {r["run_id"] for r in store.runs()}:
        raise ConfigError(f"--run-id {extra.run_id}: that run is already in {store.url}; use --resume")
    run_id = resume or extra.run_id or provenance.new_run_id()
    leases = Leases(store, on_lost=_lease_lost)
    claim(leases, run_id, devices, force)  # the last check that can refuse: nothing is written before
    try:
        open_run(store, suite, list(plans), run_id=run_id, resume=bool(resume))
        if changed:
            store.update_run(run_id, **changed)
        console.print(f"run {run_id} {'resumed' if resume else 'started'}: {suite.name} on {', '.join(plans)}"
                      f"   store: {mask(store.url)}")
        _warn_if_busy()
        rerun = (lambda: _rerun_suspects(store, run_id, suite, devices, plans, extra.baseline)) \
            if extra.rerun_suspects else None
        boards = _measure(store, run_id, suite, devices, plans, bool(resume),
                          _resume_hint(targets, device_names, store_url, profiles_dir, extra.shard, run_id), rerun)
    finally:
        leases.release()
    if boards is None:
        return interrupts.EXIT_CODE
    rows = store.results(run_id)
    results_table(rows, f"{suite.name} on {', '.join(plans)} — run {run_id}")
    console.print(f"run id: {run_id}   store: {mask(store.url)}")
    busy = conditions.busy_summary(rows)
    if busy:
        console.print(f"[yellow]warning: {busy}[/yellow]")
    for board in boards:
        if board.state.health.value != "good":
            console.print(f"[red]board {board.profile.name}: {board.state.health.value}[/red] "
                          f"{mask_optional(board.state.reason)}")
    if out is not None:
        from harness.report.render import render_run_report

        console.print(f"report: {render_run_report(store, run_id, out, profiles_dir)}")
    return ci_report(store, run_id, rows, extra)


def _measure(store: Store, run_id: str, suite: Suite, devices: list[DeviceProfile],
             plans: dict[str, list[PlannedCase]], resumed: bool, hint: str,
             then: Callable[[], None] | None = None) -> list[Board] | None:
    """Every board's cases (and `then`, the suspects' re-measurement); None when a Ctrl-C or
    SIGTERM stopped the run (marked interrupted)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    completed, ended = False, True
    try:
        with interrupts.handling(lambda: hint, lambda text: console.print(f"[yellow]{text}[/yellow]")):
            with Progress(*columns, console=console, transient=False) as progress:
                boards = [Board(d, plans[d.name], initial_state(store, d.name), _connector(d),
                                FamilyBars(progress, plans[d.name]) if len(devices) == 1
                                else BoardBars(progress, d.name, plans[d.name])) for d in devices]
                run_boards(store, run_id, suite, boards)
                if then is not None and not interrupts.requested():
                    then()
        completed = not interrupts.requested()
    except interrupts.Interrupted:
        pass
    except ConfigError:  # found only on connecting (a changed host key): leave no empty run behind
        ended = resumed or not store.discard_run(run_id)
        raise
    finally:
        if ended:
            finish_run(store, run_id, completed)
    if not completed:
        stored = len(store.results(run_id))
        console.print(f"[yellow]run {run_id} interrupted: {stored} of {sum(map(len, plans.values()))} "
                      f"case(s) stored, the one in progress dropped.[/yellow] Resume with:\n  {hint}")
        return None
    return boards


def _lease_lost(why: str) -> None:
    """Another controller took this run or board over (it judged us dead): stop between cases."""
    console.print(f"[red]{why}; stopping[/red]")
    interrupts.request_stop()


def _resume_hint(targets: list[Path], device_names: list[str], store_url: str | None,
                 profiles_dir: Path | None, shard_spec: str | None, run_id: str) -> str:
    argv = ["harness", "run", *map(str, targets), *(a for d in device_names for a in ("--device", d))]
    argv += ["--store", store_url] if store_url else []
    argv += ["--profiles", str(profiles_dir)] if profiles_dir else []
    argv += ["--shard", shard_spec] if shard_spec else []
    return mask(shlex.join([*argv, "--resume", run_id]))  # a store URL may hold a password


def _warn_if_busy() -> None:
    reasons = conditions.busy_now()
    if reasons:
        console.print(f"[yellow]warning: host busy before the run: {'; '.join(reasons)}[/yellow]")


def _rerun_suspects(store: Store, run_id: str, suite: Suite, devices: list[DeviceProfile],
                    plans: dict[str, list[PlannedCase]], ref: str | None) -> None:
    """Before the verdict: measure again, RERUNS times, every case whose latency moved against
    the baseline (a suspect, regression or improvement, or a shift of at least the effect floor
    that stayed inside band or threshold: the near misses either way), pooled into its row."""
    try:
        base_id = baselines.resolve(store, ref or baselines.LAST_GOOD, relative_to=run_id)
    except StoreError:
        return  # no baseline yet: nothing is suspect
    criteria = Criteria()
    suspects = {v.new_key for v in compare_stored(store, base_id, run_id, criteria).verdicts
                if v.new_key and (lat := v.check("latency")) is not None
                and (lat.verdict != UNCHANGED or abs(lat.change) >= criteria.min_effect_pct)}
    for device in devices:
        items = [p for p in plans[device.name] if (device.name, p.case.family, p.case.variant) in suspects]
        if items:
            console.print(f"re-measuring {len(items)} suspect case(s) on {device.name} {RERUNS} more times: "
                          f"{', '.join(p.case.key for p in items)}")
            remeasure(store, run_id, suite, device, _connector(device), items, RERUNS)


def _devices(names: list[str], profiles_dir: Path | None) -> list[DeviceProfile]:
    """--device a --device b, or --device a,b; each board once."""
    wanted = [n.strip() for name in names for n in name.split(",") if n.strip()]
    if not wanted:
        raise ConfigError(f"--device {','.join(names)!r} names no board; give a device name or a profile path")
    devices, errors = [], []
    for name in wanted:  # every bad device reported at once
        try:
            devices.append(_same_as_shipped(profile_mod.resolve(name, profiles_dir), name, profiles_dir))
        except ConfigError as exc:
            errors.extend(configfile.messages(exc))
    configfile.raise_all(errors)
    seen = [d.name for d in devices]
    twice = sorted({n for n in seen if seen.count(n) > 1})
    if twice:
        raise ConfigError(f"--device names {', '.join(twice)} more than once: a board runs one thing at a time")
    return devices


def _same_as_shipped(device: DeviceProfile, given: str, profiles_dir: Path | None) -> DeviceProfile:
    """A profile given by path whose name is a known device's but whose specs differ would store
    two boards' results under one name: refused, naming the fields that differ."""
    path = Path(given)
    from harness.locations import profile_dirs

    shipped = next((d / f"{device.name}.yaml" for d in profile_dirs(profiles_dir)
                    if (d / f"{device.name}.yaml").is_file()), None)
    if path.suffix not in (".yaml", ".yml") or shipped is None or shipped.resolve() == path.resolve():
        return device
    known = profile_mod.load_profile(shipped)
    ignore = {"description", "specs_source"}
    mine, theirs = device.model_dump(exclude=ignore), known.model_dump(exclude=ignore)
    differ = sorted(k for k in mine if mine[k] != theirs[k])
    if differ:
        raise ConfigError(f"{path}: name {device.name!r} is the device {shipped}, but {', '.join(differ)} differ; "
                          "results are stored by device name, so give this board its own name")
    return device


def _shard(plans: dict[str, list[PlannedCase]], spec: tuple[int, int]) -> dict[str, list[PlannedCase]]:
    """Whole families per shard; with several boards a family on each board is its own unit."""
    items = [(name, p) for name, planned in plans.items() for p in planned]
    keys = [p.case.family if len(plans) == 1 else f"{name}/{p.case.family}" for name, p in items]
    chosen = shard.select(items, keys, spec)
    return {name: [p for n, p in chosen if n == name] for name in plans}


def _connector(device: DeviceProfile) -> Callable[[], Runner]:
    return lambda: open_runner(device, Deadline(CONNECT_TIMEOUT_S))


def ci_report(store: Store, run_id: str, rows: list[dict[str, Any]], extra: RunOutputs) -> int:
    """Baseline comparison, JUnit and Markdown files; the exit code (see harness.results.ci_outputs)."""
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

"""The `harness` command line. Heavy modules are imported inside commands, so --help is fast."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from harness.errors import HarnessError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hardware-in-the-loop benchmarks of TinyML and edge models.")

StoreOpt = typer.Option(None, "--store", help="Results store URL or SQLite path "
                        "[default: $EDGE_HARNESS_STORE, else the store of the nearest "
                        "edge-harness.toml, else ~/.local/share/edge-harness/edge-harness.sqlite]")
ProfilesOpt = typer.Option(None, "--profiles", help="Directory of device profiles [default: "
                           "$EDGE_HARNESS_PROFILES, edge-harness.toml's profiles, then the shipped ones].")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def handled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Harness errors become one line on stderr and the error's exit code; so does a file the
    command could not read or write (a missing path, a permission), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            from harness.masking import mask

            typer.echo(f"error: {mask(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            typer.echo(f"error: {where}{exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def _probability(value: float) -> float:
    if not 0 < value < 1:
        raise typer.BadParameter(f"{value:g} is not a significance level; give a number between 0 and 1, e.g. 0.01")
    return value


def _positive(value: Optional[float]) -> Optional[float]:
    if value is not None and not value > 0:
        raise typer.BadParameter(f"{value:g}: give a number greater than 0")
    return value


@app.command()
@handled
def devices(profiles: Optional[Path] = ProfilesOpt, as_json: bool = JsonOpt) -> None:
    """List the device profiles."""
    from harness.config import profiles as profile_mod
    from harness.cli.views import devices_table, print_json

    found = profile_mod.load_all(profiles)
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
    else:
        devices_table(found)


@app.command()
@handled
def inspect(models: list[Path] = typer.Argument(..., help=".tflite files or model folders."),
            as_json: bool = JsonOpt,
            no_cache: bool = typer.Option(False, "--no-cache", help="Probe TFLite-Micro again.")) -> None:
    """Inputs, outputs, operators, parameters, MACs, bytes and the TFLite-Micro arena of a model."""
    from harness.cli.views import inspection_view, print_json
    from harness.errors import ConfigError, ModelError
    from harness.lab.inspection import inspect_model, model_files

    try:
        found = [inspect_model(path, use_cache=not no_cache) for path in model_files(models)]
    except ModelError as exc:  # the file given is bad input, as `run` treats it
        raise ConfigError(str(exc)) from None
    if as_json:
        print_json(found[0].to_dict() if len(found) == 1 else [f.to_dict() for f in found])
    else:
        for one in found:
            inspection_view(one)


@app.command()
@handled
def check(suite: list[Path] = typer.Argument(..., help="A suite (.yaml), or .tflite files and model folders."),
          device: str = typer.Option(..., "--device", help="Device name, profile path, or 'all'."),
          profiles: Optional[Path] = ProfilesOpt, store: Optional[str] = StoreOpt,
          as_json: bool = JsonOpt) -> None:
    """The variant of each model family to deploy on the device, the rule, and why the others lost."""
    from harness.lab.check import check_suite
    from harness.cli.views import check_view, print_json

    report = check_suite(suite, device, profiles, store)
    if as_json:
        print_json(report)
    else:
        check_view(report)


@app.command()
@handled
def run(suite: list[Path] = typer.Argument(..., help="A suite (.yaml), or .tflite files and model folders."),
        device: list[str] = typer.Option(
            ..., "--device", help="Device name or profile path; repeat (or a,b) for boards in parallel."),
        store: Optional[str] = StoreOpt, out: Optional[Path] = typer.Option(
            None, "--out", help="Also render the HTML report into this directory."),
        resume: Optional[str] = typer.Option(
            None, "--resume", help="Resume this killed or interrupted run (id, unique prefix or latest)."),
        force: bool = typer.Option(False, "--force", help="Resume although the suite file or the devices "
                                   "differ from the run's, or measure a board another live run holds."),
        profiles: Optional[Path] = ProfilesOpt,
        baseline: Optional[str] = typer.Option(
            None, "--baseline", help="Compare with this run afterwards ('last-good' or a run id); "
            "a regression fails the run (exit 4)."),
        junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here."),
        markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary here."),
        shard: Optional[str] = typer.Option(None, "--shard", help="Run only shard K of N, e.g. 3/8."),
        run_id: Optional[str] = typer.Option(
            None, "--run-id", help="Id of a new run (CI shards of one run share it; see `harness merge`)."),
        repeat: Optional[int] = typer.Option(
            None, "--repeat", min=1, help="Measure every case K times, interleaved; each repetition's median is kept."),
        rerun_suspects: bool = typer.Option(
            False, "--rerun-suspects", help="With --baseline: measure again (3x) cases whose latency moved >= the effect floor, before the verdict.")
        ) -> None:
    """Run a suite, or models given directly, on one or more boards (one worker per board)."""
    from harness.cli.run import RunOutputs, run_command

    raise typer.Exit(run_command(suite, device, store, out, resume, profiles,
                                 RunOutputs(baseline, junit, markdown, shard, run_id, repeat, rerun_suspects), force))


@app.command()
@handled
def compare(base: str = typer.Argument(..., help="BASE: run id, latest, last-good, or RUN:family/variant."),
            new: str = typer.Argument(..., help="NEW: run id, latest, or RUN:family/variant."),
            store: Optional[str] = StoreOpt,
            better: Optional[float] = typer.Option(None, "--better", min=0, help="A/B: is B's latency better by more than PCT %?"),
            max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms", callback=_positive,
                                                           help="A/B: is B's median latency under MS?"),
            alpha: float = typer.Option(0.01, "--alpha", callback=_probability,
                                        help="Significance level of the Mann-Whitney U test, in (0, 1)."),
            min_effect_pct: float = typer.Option(5.0, "--min-effect-pct", min=0, help="Smallest median shift counted as real."),
            latency_pct: float = typer.Option(10.0, "--latency-pct", min=0, help="Latency change that matters, %."),
            memory_pct: float = typer.Option(10.0, "--memory-pct", min=0, help="Memory change that matters, %."),
            energy_pct: float = typer.Option(10.0, "--energy-pct", min=0, help="Energy change that matters, %."),
            accuracy_points: float = typer.Option(1.0, "--accuracy-points", min=0, help="Top-1 change that matters, points."),
            history: int = typer.Option(10, "--history", min=1,
                                        help="Latency noise band from the last N good runs up to BASE."),
            allow_no_baseline: bool = typer.Option(
                False, "--allow-no-baseline", help="BASE last-good and none yet (a first run): report NEW alone."),
            junit: Optional[Path] = typer.Option(None, "--junit", help="Write NEW's JUnit XML with the verdicts here."),
            markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary here."),
            cycles_pct: Optional[float] = typer.Option(
                None, "--cycles-pct", help="Also gate on estimated cycles (emulated Cortex-M): growth above PCT % (0: any) regresses."),
            as_json: bool = JsonOpt) -> None:
    """Compare two runs (regressions, improvements) or two variants (A/B). Exit 4 on a regression."""
    from harness.cli.compare import compare_command
    from harness.results.regression import Criteria

    criteria = Criteria(alpha=alpha, min_effect_pct=min_effect_pct, latency_pct=latency_pct,
                        memory_pct=memory_pct, energy_pct=energy_pct, accuracy_points=accuracy_points,
                        history_runs=history)
    code = compare_command(base, new, store, criteria, better, max_latency_ms, as_json, junit, markdown,
                           allow_no_baseline)
    if cycles_pct is not None:  # issue 18: its own gate, beside the latency verdicts
        from harness.cycles.compare import cycles_gate

        code = cycles_gate(store, base, new, cycles_pct, as_json, code)
    raise typer.Exit(code)


@app.command()
@handled
def merge(out_store: str = typer.Argument(..., help="Store to merge into (URL or SQLite path)."),
          in_stores: list[str] = typer.Argument(..., help="Stores to merge from.")) -> None:
    """Merge the stores of CI matrix jobs (or labs) into one; merging twice adds nothing."""
    from harness.results.merge import merge as merge_stores
    from harness.results.merge import open_source
    from harness.results.store import Store

    sources = [open_source(url) for url in in_stores]
    counts = merge_stores(Store(out_store), sources)
    typer.echo(" ".join(f"{name}={value}" for name, value in vars(counts).items()))


RunRefOpt = typer.Option("latest", "--run", help="Run id, unique prefix, latest or last-good.")


@app.command()
@handled
def results(run_id: str = RunRefOpt,
            fmt: str = typer.Option("table", "--format", help="table, json, csv, markdown or parquet."),
            output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE (parquet needs it)."),
            device: Optional[str] = typer.Option(None, "--device", help="Only this device."),
            family: Optional[str] = typer.Option(None, "--family", help="Only this model family."),
            status: Optional[str] = typer.Option(None, "--status", help="Only ok, failed, skipped or not-run."),
            store: Optional[str] = StoreOpt) -> None:
    """Read stored results back."""
    from harness.cli.runs import results_command
    from harness.results.store import Store

    results_command(Store(store, readonly=True), run_id, device, family, status, fmt, output)


@app.command()
@handled
def runs(suite: Optional[str] = typer.Option(None, "--suite", help="Only runs of this suite."),
         device: Optional[str] = typer.Option(None, "--device", help="Only runs on this device."),
         status: Optional[str] = typer.Option(None, "--status", help="complete, running, interrupted, regressed, ..."),
         limit: Optional[int] = typer.Option(20, "--limit", help="At most N runs, newest first (0: all)."),
         store: Optional[str] = StoreOpt, as_json: bool = JsonOpt) -> None:
    """The stored runs: id, suite, devices, status, result counts, start and duration."""
    from harness.cli.runs import runs_command
    from harness.results.store import Store

    runs_command(Store(store, readonly=True), suite, device, status, limit or None, as_json)


@app.command()
@handled
def report(run_id: str = RunRefOpt,
           out: Path = typer.Option(Path("out/report"), "--out", help="Output directory."),
           store: Optional[str] = StoreOpt, profiles: Optional[Path] = ProfilesOpt,
           definition: Optional[Path] = typer.Option(
               None, "--definition", help="A reports/*.yaml: render its white paper instead of one run."),
           pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the white paper as PDF.")) -> None:
    """Render the HTML report of a run, or with --definition the white paper of a period."""
    from harness.errors import ConfigError
    from harness.results.store import Store

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; give a directory for the report")
    db = Store(store, readonly=True)
    if definition is not None:
        from harness.progress import Progress
        from harness.report.definition import load_definition
        from harness.report.whitepaper import render_whitepaper

        with Progress("white paper") as step:
            paths, notes = render_whitepaper(db, load_definition(definition), out, profiles, pdf=pdf, step=step)
        for note in notes:
            typer.echo(note, err=True)
        typer.echo("\n".join(str(p) for p in paths))
        return
    from harness.results.baselines import resolve
    from harness.progress import Progress
    from harness.report.render import render_run_report

    with Progress("run report") as step:
        step("reading the store and drawing the charts")
        path = render_run_report(db, resolve(db, run_id), out, profiles)
    typer.echo(str(path))


@app.command()
@handled
def dashboard(out: Path = typer.Option(Path("out/dashboard"), "--out", help="Output directory."),
              suite: Optional[str] = typer.Option(None, "--suite", help="Only this suite [default: every suite]."),
              store: Optional[str] = StoreOpt, profiles: Optional[Path] = ProfilesOpt) -> None:
    """The nightly dashboard: a static site of every benchmark's trend, noise band and change points."""
    from harness.progress import Progress
    from harness.report.dashboard import render_dashboard
    from harness.results.store import Store

    with Progress("dashboard") as step:
        written = render_dashboard(Store(store), out, profiles, suite, step=step)
    typer.echo(f"{out / 'index.html'} ({len(written)} files written)")


@app.command()
@handled
def leaderboard(year: int = typer.Option(..., "--year", help="Calendar year to rank."),
                definition: Optional[Path] = typer.Option(
                    None, "--definition", help="Reference, weights, suites [default: reports/annual-YEAR.yaml]."),
                reference: Optional[str] = typer.Option(
                    None, "--reference", help="Score against this device [default: the definition's]."),
                out: Optional[Path] = typer.Option(None, "--out", help="Output directory [default: out/leaderboard-YEAR]."),
                store: Optional[str] = StoreOpt, profiles: Optional[Path] = ProfilesOpt) -> None:
    """The annual leaderboard: a year of nightly runs ranked, with movement against the year before."""
    from harness.cli.views import leaderboard_table
    from harness.report.definition import load_definition
    from harness.report.leaderboard import render_leaderboard
    from harness.results.store import Store

    from harness.errors import ConfigError

    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file; give a directory for the leaderboard")
    spec = load_definition(definition or Path(f"reports/annual-{year}.yaml"))
    paths, board = render_leaderboard(Store(store, readonly=True), spec, year, out or Path(f"out/leaderboard-{year}"), profiles,
                                      reference)
    typer.echo(board.method)
    if board.note:
        typer.echo(f"note: {board.note}")
    leaderboard_table(board.table(), f"Leaderboard {year}, reference {board.board.reference} = 1000")
    typer.echo("\n".join(str(p) for p in paths))


@app.command()
@handled
def health(device: Optional[str] = typer.Argument(None, help="A board's name [default: every board]."),
           set_state: Optional[str] = typer.Option(
               None, "--set", help="good, unknown, bad or maintenance (a person's decision, logged)."),
           reason: Optional[str] = typer.Option(None, "--reason", help="Why, for the next engineer."),
           store: Optional[str] = StoreOpt, profiles: Optional[Path] = ProfilesOpt,
           as_json: bool = JsonOpt) -> None:
    """Board health (LAVA's model): show it, or take a board out of service and back."""
    from harness.cli.views import health_table, print_json
    from harness.errors import ConfigError
    from harness.lab.health import Health
    from harness.results.store import Store

    db = Store(store, readonly=set_state is None)  # showing health only reads
    if set_state is not None:
        if device is None:
            raise ConfigError("--set needs a board name")
        try:
            state = Health(set_state)
        except ValueError:
            raise ConfigError(f"--set {set_state!r}: use one of {', '.join(h.value for h in Health)}") from None
        _known_board(db, device, profiles)
        db.set_board_health(device, state.value, reason or f"set by hand to {state.value}")
    rows = [r for r in db.boards_health() if device is None or r["device"] == device]
    if as_json:
        print_json(rows)
    else:
        health_table(rows)


def _known_board(db: Any, device: str, profiles: Path | None) -> None:
    """A health decision for a board nobody has (a typo) would be stored and never read."""
    from harness.errors import ConfigError
    from harness.locations import profile_dirs

    directories = profile_dirs(profiles)
    known = {r["device"] for r in db.boards_health()} | {p.stem for d in directories for p in d.glob("*.yaml")}
    if device not in known:
        raise ConfigError(f"unknown board {device!r}: no profile {device}.yaml in "
                          f"{', '.join(str(d) for d in directories)} and no board of that name in the store; "
                          f"known: {', '.join(sorted(known)) or 'none'}")


@app.command()
@handled
def schema(kind: str = typer.Argument(..., help="profile, suite or manifest.")) -> None:
    """The JSON Schema of device profiles, suites or model manifests, for editors and CI."""
    from harness.cli.views import print_json
    from harness.config.schemas import json_schema

    print_json(json_schema(kind))


model_app = typer.Typer(no_args_is_help=True, help="Model folders: write a manifest for one.")
app.add_typer(model_app, name="model")


@model_app.command("init")
@handled
def model_init(directory: Path = typer.Argument(..., help="A folder of .tflite files (and a dataset)."),
               force: bool = typer.Option(False, "--force", help="Replace an existing manifest.json.")) -> None:
    """Write DIR/manifest.json from the files found, for you to complete (docs/manifest.md)."""
    from harness.models.manifest_init import init_manifest

    path, manifest = init_manifest(directory, force=force)
    names = ", ".join(v["name"] for v in manifest["variants"])
    dataset = manifest["dataset"]["file"] if manifest["dataset"] else "none found"
    typer.echo(f"wrote {path}: family {manifest['family']!r}, variants {names}; dataset {dataset}")
    typer.echo("complete it: published accuracy (host_accuracy), dataset source, task")


def _version(value: bool) -> None:
    if value:
        from harness.cli.versions import version_report

        typer.echo(version_report())
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="The version and the runtimes found, then exit.")) -> None:
    """Hardware-in-the-loop benchmarks of TinyML and edge models."""


def main() -> None:
    from harness.masking import mask_logs

    mask_logs()
    app()


if __name__ == "__main__":
    sys.exit(main())

"""The `harness` command line. Heavy modules are imported inside commands, so --help is fast."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from harness.errors import HarnessError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hardware-in-the-loop benchmarks of TinyML and edge models.")

StoreOpt = typer.Option(None, "--store", help="Results store URL or SQLite path "
                        "[default: $EDGE_HARNESS_STORE or results/edge-harness.sqlite]")
ProfilesOpt = typer.Option(None, "--profiles", help="Directory of device profiles.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def handled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Harness errors become one line on stderr and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


@app.command()
@handled
def devices(profiles: Optional[Path] = ProfilesOpt, as_json: bool = JsonOpt) -> None:
    """List the device profiles."""
    from harness import profiles as profile_mod
    from harness.cli_views import devices_table, print_json

    found = profile_mod.load_all(profiles)
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
    else:
        devices_table(found)


@app.command()
@handled
def inspect(model: Path, as_json: bool = JsonOpt,
            no_cache: bool = typer.Option(False, "--no-cache", help="Probe TFLite-Micro again.")) -> None:
    """Inputs, outputs, operators, parameters, MACs, bytes and the TFLite-Micro arena of a model."""
    from harness.cli_views import inspection_view, print_json
    from harness.inspection import inspect_model

    found = inspect_model(model, use_cache=not no_cache)
    if as_json:
        print_json(found.to_dict())
    else:
        inspection_view(found)


@app.command()
@handled
def check(suite: Path, device: str = typer.Option(..., "--device", help="Device name, profile path, or 'all'."),
          profiles: Optional[Path] = ProfilesOpt, as_json: bool = JsonOpt) -> None:
    """The best variant of each model family that fits the device, and why the others do not."""
    from harness.check import check_suite
    from harness.cli_views import check_view, print_json

    report = check_suite(suite, device, profiles)
    if as_json:
        print_json(report)
    else:
        check_view(report)


@app.command()
@handled
def run(suite: Path, device: str = typer.Option(..., "--device", help="Device name or profile path."),
        store: Optional[str] = StoreOpt, out: Optional[Path] = typer.Option(
            None, "--out", help="Also render the HTML report into this directory."),
        resume: Optional[str] = typer.Option(None, "--resume", help="Resume this killed run."),
        profiles: Optional[Path] = ProfilesOpt) -> None:
    """Run a suite on a device, store every result, print a summary."""
    from harness.cli_run import run_command

    raise typer.Exit(run_command(suite, device, store, out, resume, profiles))


@app.command()
@handled
def results(run_id: Optional[str] = typer.Option(None, "--run", help="Run id [default: latest]."),
            fmt: str = typer.Option("table", "--format", help="table, json or csv."),
            store: Optional[str] = StoreOpt) -> None:
    """Read stored results back."""
    from harness.cli_views import results_output
    from harness.store import Store

    db = Store(store)
    results_output(db, run_id or db.latest_run_id(), fmt)


@app.command()
@handled
def report(run_id: Optional[str] = typer.Option(None, "--run", help="Run id [default: latest]."),
           out: Path = typer.Option(Path("out/report"), "--out", help="Output directory."),
           store: Optional[str] = StoreOpt, profiles: Optional[Path] = ProfilesOpt) -> None:
    """Render the HTML report of a run."""
    from harness.report.render import render_run_report
    from harness.store import Store

    db = Store(store)
    path = render_run_report(db, run_id or db.latest_run_id(), out, profiles)
    typer.echo(str(path))


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())

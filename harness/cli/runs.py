"""`harness runs` and `harness results`: find stored runs, read their results in any format."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from harness import api
from harness.cli.views import RESULT_COLUMNS, console, results_table
from harness.errors import ConfigError
from harness.results.store import Store

FORMATS = ("table", "json", "csv", "markdown", "parquet")


def runs_command(store: Store, suite: str | None, device: str | None, status: str | None,
                 limit: int | None, as_json: bool) -> None:
    frame = api.runs(store, suite=suite, device=device, status=status, limit=limit)
    if as_json:
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=2) + "\n")
        return
    table = Table(title=f"runs in {store.url}")
    for col in ("run id", "suite", "devices", "status", "ok", "failed", "skipped", "not-run", "started (UTC)",
                "duration"):
        table.add_column(col, overflow="fold")
    for r in frame.to_dict("records"):
        table.add_row(r["run_id"], str(r["suite"]), ", ".join(r["devices"] or []), str(r["status"]),
                      *(str(r[k]) for k in ("ok", "failed", "skipped", "not-run")),
                      r["started_at"].strftime("%Y-%m-%d %H:%M:%S"), _duration(r["duration_s"]))
    console.print(table)
    if frame.empty:
        console.print("no runs match" if (suite or device or status) else "no runs yet")


def _duration(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds):
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s"


def results_command(store: Store, run: str, device: str | None, family: str | None, status: str | None,
                    fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; use {', '.join(FORMATS)}")
    if fmt == "parquet" and output is None:
        raise ConfigError("--format parquet is binary: give --output FILE")
    from harness.results import baselines

    run_id = baselines.resolve(store, run)
    frame = api.results(store, run_id, device=device, family=family, status=status)
    if fmt == "table":
        results_table(frame.astype(object).where(frame.notna(), None).to_dict("records"), f"run {run_id}")
        return
    if fmt == "parquet":
        _write_parquet(frame, output)
        console.print(f"{len(frame)} results of run {run_id} -> {output}")
        return
    text = {"json": lambda: _json(store, run_id, frame), "csv": lambda: _flat(frame).to_csv(index=False),
            "markdown": lambda: markdown(frame, run_id)}[fmt]()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """JSON columns as JSON text: CSV and Parquet cells hold scalars."""
    flat = frame.copy()
    for column in api.JSON_COLUMNS:
        if column in flat:
            flat[column] = flat[column].map(lambda v: None if v is None else json.dumps(v, default=str)).astype("string")
    return flat


def _json(store: Store, run_id: str, frame: pd.DataFrame) -> str:
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    return json.dumps({"run": store.run(run_id), "results": rows}, indent=2, default=str) + "\n"


def markdown(frame: pd.DataFrame, run_id: str) -> str:
    columns = [c for c in RESULT_COLUMNS if c in frame]
    lines = [f"Results of run `{run_id}`", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    for row in frame[columns].itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _write_parquet(frame: pd.DataFrame, output: Path) -> None:
    try:
        import pyarrow  # noqa: F401 - the parquet extra
    except ImportError:
        raise ConfigError("--format parquet needs pyarrow: pip install 'edge-harness[parquet]'") from None
    buffer = io.BytesIO()
    _flat(frame).to_parquet(buffer, index=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(buffer.getvalue())

"""The scored table as pandas (CSV, Parquet) and as a Markdown summary for CI comments."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from harness.errors import ConfigError
from harness.report.render import write_atomically
from harness.scoring import DIMENSIONS, DeviceScore, Scoreboard


class MissingExtra(ConfigError):
    """An optional part (PDF, Parquet) whose package is not installed."""


def scored_frame(board: Scoreboard) -> pd.DataFrame:
    """One row per device and pool: rank, composite with its interval, every dimension."""
    records = []
    for s in board.all():
        record = {"pool": s.pool, "rank": s.rank, "tied": s.tied, "device": s.device, "tier": s.tier,
                  "composite": s.composite, "ci_low": s.ci_low, "ci_high": s.ci_high,
                  "covers": ",".join(s.covers), "reference": board.reference}
        for d in DIMENSIONS:
            dim = s.dims[d]
            record.update({f"{d}_score": dim.score, f"{d}_gsd": dim.gsd, f"{d}_models": dim.models,
                           f"{d}_status": dim.status})
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if not frame.empty:
        frame["rank"] = frame["rank"].astype("Int64")  # unranked stays <NA>, never 0
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return write_atomically(path, frame.to_csv(index=False))


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtra("Parquet skipped: pyarrow is not installed; "
                           "pip install 'edge-harness[parquet]'") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return path


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~-])")  # < > & are HTML-escaped after


def md(text: object) -> str:
    """Text safe in a GitHub Markdown table cell: HTML escaped, Markdown syntax neutralized."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", str(text)), quote=False).replace("\n", " ")


def _num(v: float | None, digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _dim(s: DeviceScore, d: str) -> str:
    dim = s.dims[d]
    if dim.score is None:
        return dim.status
    return f"{dim.score:.3f} (×/÷{dim.gsd:.2f})" if dim.gsd is not None else f"{dim.score:.3f}"


def markdown_summary(board: Scoreboard, title: str) -> str:
    lines = [f"## {md(title)}", "",
             f"Reference device: **{md(board.reference)}** (= 1000). Composite: weighted geometric mean of "
             f"the dimensions each pool has in common; {int(board.confidence * 100)}% bootstrap interval; "
             "overlapping intervals share a rank (=). This is this lab's own scoring method.", ""]
    for pool, scores in board.pools.items():
        if not scores:
            continue
        lines += [f"### {pool}", "", "| rank | device | composite | interval | covers | "
                  + " | ".join(DIMENSIONS) + " |", "|---" * (5 + len(DIMENSIONS)) + "|"]
        for s in scores:
            rank = "—" if s.rank is None else f"{'=' if s.tied else ''}{s.rank}"
            interval = "—" if s.ci_low is None else f"{s.ci_low:.0f}–{s.ci_high:.0f}"
            lines.append(f"| {rank} | {md(s.device)} | {_num(s.composite)} | {interval} | "
                         f"{md(', '.join(s.covers) or 'nothing in common')} | "
                         + " | ".join(md(_dim(s, d)) for d in DIMENSIONS) + " |")
        lines.append("")
    if board.estimated_power:
        lines.append(f"{len(board.estimated_power)} result(s) with *estimated* power are not ranked.")
    if board.unscored_models:
        names = ", ".join(md(f"{f}/{v}") for f, v in board.unscored_models)
        lines.append(f"Not scored (no reference result): {names}.")
    return "\n".join(lines).rstrip() + "\n"

"""`harness compare` and `harness run --baseline`: load two sides from the store, compare, print."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from rich.table import Table

from harness.results import baselines, ci_outputs
from harness.results.ci_outputs import EXIT_OK, EXIT_RESULT, EXIT_REGRESSION
from harness.cli.views import console, print_json
from harness.errors import ConfigError, StoreError
from harness.results.regression import (HISTORY_METRICS, MISSING, TABLE_COLUMNS, Answer, CaseVerdict, Comparison,
                                        Criteria, ab_answers, compare_case, compare_runs, table_rows)
from harness.results.store import Store

_STYLE = {"regression": "bold red", "suspect": "yellow", "improvement": "green", "unchanged": "", "missing": "yellow"}


def load_samples(store: Store, rows: list[Mapping[str, Any]]) -> dict[int, list[float]]:
    return {r["id"]: store.samples(r["id"]) for r in rows if r["status"] == "ok"}


def compare_stored(store: Store, base_id: str, new_id: str, criteria: Criteria) -> Comparison:
    """NEW against BASE, each case's noisy metrics against their history up to BASE (harness/results/history.py)."""
    base_rows, new_rows = store.results(base_id), store.results(new_id)
    history = baselines.metric_history(store, base_id, new_rows, HISTORY_METRICS, criteria.history_runs)
    return compare_runs(base_rows, new_rows, load_samples(store, base_rows + new_rows), criteria, history)


def compare_variants(store: Store, base: tuple[str, str, str], new: tuple[str, str, str],
                     criteria: Criteria) -> Comparison:
    """A/B: variant A of run `base` against variant B of run `new`, device by device."""
    sides = []
    for run_id, family, variant in (base, new):
        rows = {r["device"]: r for r in store.results(run_id) if (r["family"], r["variant"]) == (family, variant)}
        if not rows:
            raise ConfigError(f"run {run_id} has no result for {family}/{variant}")
        sides.append(rows)
    samples = load_samples(store, [*sides[0].values(), *sides[1].values()])
    verdicts = []
    for device in sorted(sides[0].keys() | sides[1].keys()):
        if device in sides[0] and device in sides[1]:
            verdicts.append(compare_case(sides[0][device], sides[1][device], samples, criteria))
        else:
            present = sides[0].get(device) or sides[1][device]
            key = (device, present["family"], present["variant"])
            verdicts.append(CaseVerdict(key if device in sides[0] else None,
                                        key if device in sides[1] else None, MISSING,
                                        note=f"only one side was measured on {device}"))
    return Comparison(verdicts)


def compare_command(base: str, new: str, store_url: str | None, criteria: Criteria,
                    better: float | None, max_latency_ms: float | None, as_json: bool,
                    junit: Path | None = None, markdown: Path | None = None,
                    allow_no_baseline: bool = False) -> int:
    store = Store(store_url)
    (base_ref, base_family, base_variant), (new_ref, new_family, new_variant) = (
        baselines.parse_selector(base), baselines.parse_selector(new))
    if (base_family is None) != (new_family is None):
        raise ConfigError("compare two runs (BASE NEW) or two variants (RUN:family/a RUN:family/b), not one of each")
    if (better is not None or max_latency_ms is not None) and new_family is None:
        raise ConfigError("--better and --max-latency-ms answer A/B questions: name two variants, "
                          "e.g. RUN:digits-cnn/fp32 RUN:digits-cnn/int8")
    if (junit or markdown) and new_family is not None:
        raise ConfigError("--junit and --markdown describe a run: compare two runs (BASE NEW) to write them")
    new_id = baselines.resolve(store, new_ref)
    if (new_family is None and allow_no_baseline and base_ref == baselines.LAST_GOOD
            and baselines.last_good(store, store.run(new_id)) is None):
        console.print(f"no last-good run before {new_id} yet: nothing to compare")
        return _run_outputs(store, new_id, None, None, junit, markdown)
    base_id = baselines.resolve(store, base_ref, relative_to=new_id)
    if new_family is None:
        comparison = compare_stored(store, base_id, new_id, criteria)
        title = f"{base_id} -> {new_id}"
        if base_ref == baselines.LAST_GOOD and comparison.regressed:
            store.mark_run(new_id, "regressed")  # as `run --baseline last-good`: never anyone's last-good
    else:
        comparison = compare_variants(store, (base_id, base_family, base_variant),
                                      (new_id, new_family, new_variant), criteria)
        title = f"A {base_id}:{base_family}/{base_variant} -> B {new_id}:{new_family}/{new_variant}"
    answers = [a for v in comparison.verdicts for a in ab_answers(v, criteria, better, max_latency_ms)]
    if as_json:
        print_json({"base": base_id, "new": new_id, "criteria": dataclasses.asdict(criteria),
                    "verdicts": [dataclasses.asdict(v) for v in comparison.verdicts],
                    "answers": [dataclasses.asdict(a) for a in answers]})
    else:
        print_comparison(comparison, title)
        print_answers(answers)
        from harness.measures.op_profile import compare_rows  # where the time moved inside each model

        for line in compare_rows(store.results(base_id), store.results(new_id)) if new_family is None else []:
            console.print(line, markup=False, highlight=False)
    if new_family is not None:  # A/B: a regression of B against A, or a question answered no
        if comparison.regressed:
            return EXIT_REGRESSION
        return EXIT_RESULT if any(not a.passed for a in answers) else EXIT_OK
    return _run_outputs(store, new_id, base_id, comparison, junit, markdown)


def _run_outputs(store: Store, new_id: str, base_id: str | None, comparison: Comparison | None,
                 junit: Path | None, markdown: Path | None) -> int:
    """Two runs: write NEW's CI files and exit as `harness run NEW --baseline BASE` would have."""
    run, rows = store.run(new_id), store.results(new_id)
    if junit:
        write_text(junit, ci_outputs.junit_xml(run, rows, comparison))
    if markdown:
        write_text(markdown, ci_outputs.markdown_summary(run, rows, comparison, base_id))
    return ci_outputs.exit_code(rows, comparison)


def baseline_comparison(store: Store, run_id: str, ref: str,
                        criteria: Criteria = Criteria()) -> tuple[str | None, Comparison | None]:
    """`harness run --baseline REF`: (baseline id, comparison), or (None, None) when the first
    run of a suite has no last-good run yet."""
    try:
        base_id = baselines.resolve(store, ref, relative_to=run_id)
    except StoreError:
        if ref != baselines.LAST_GOOD:
            raise
        console.print("[yellow]no last-good run of this suite and device yet: nothing to compare[/yellow]")
        return None, None
    return base_id, compare_stored(store, base_id, run_id, criteria)


def print_comparison(comparison: Comparison, title: str) -> None:
    table = Table(title=title)
    for col in TABLE_COLUMNS:
        table.add_column(col)
    for row in table_rows(comparison):
        style = _STYLE[row["verdict"]]
        table.add_row(*[row[c] for c in TABLE_COLUMNS], style=style or None)
    console.print(table)
    console.print(", ".join(f"{comparison.count(v)} {v}" for v in _STYLE))


def print_answers(answers: list[Answer]) -> None:
    for a in answers:
        mark = "[green]yes[/green]" if a.passed else "[red]no[/red]"
        console.print(f"{a.question}? {mark} ({a.value})")


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None

"""`harness run --shard K/N` and `harness merge`: a CI matrix splits a suite across jobs, each with
its own store, and merges them: every case exactly once, merging twice adds nothing, and a
conflicting duplicate is refused by name."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.lab import shard
from harness.cli import app
from harness.errors import ConfigError, StoreError
from harness.results.merge import merge, open_source
from harness.results.store import Store
from tests.conftest import REPO
from tests.suite_files import write_suite

cli = CliRunner()
FAMILIES = {"digits-cnn": ["fp32", "fp16", "int8", "tiny-int8"], "mobilenetv2-035-96": ["fp32"]}
CASES = {(f, v) for f, vs in FAMILIES.items() for v in vs}


def harness(*args: str) -> tuple[int, str]:
    extra = ["--profiles", str(REPO / "device_profiles")] if args[0] == "run" else []
    result = cli.invoke(app, [*args, *extra])
    return result.exit_code, result.output


# ------------------------------------------------------------------ the split itself


def test_parse_shard_spec() -> None:
    assert shard.parse("3/8") == (3, 8) and shard.parse(" 1 / 1 ") == (1, 1)
    for bad in ("0/8", "9/8", "3", "a/b", "3/0", "-1/2"):
        with pytest.raises(ConfigError, match="K/N"):
            shard.parse(bad)


@pytest.mark.parametrize("count", range(1, 9))
def test_every_case_in_exactly_one_shard(count: int) -> None:
    families = ["a"] * 6 + ["b"] * 2 + ["c"] * 3 + ["d"] + ["e"] * 2
    cases = [f"{f}{i}" for i, f in enumerate(families)]
    shards = [shard.select(cases, families, (k, count)) for k in range(1, count + 1)]
    flat = [c for s in shards for c in s]
    assert sorted(flat) == sorted(cases) and len(flat) == len(set(flat)) == 14
    for family in set(families):  # a family is never split across shards
        assert sum(1 for s in shards if any(c.startswith(family) for c in s)) == 1
    assert shard.assign(families, count) == shard.assign(list(reversed(families)), count)  # order-free
    if count == 2:
        assert sorted(len(s) for s in shards) == [7, 7]  # balanced: 6+1 and 3+2+2


# ------------------------------------------------------------------ sharded runs merged (host)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("shards")
    suite = write_suite(tmp, families=FAMILIES, name="sharded")
    stores = []
    for k in (1, 2, 3):
        db = str(tmp / f"shard{k}.sqlite")
        code, out = harness("run", str(suite), "--device", "host", "--store", db,
                            "--shard", f"{k}/3", "--run-id", "ci-42")
        assert code == 0, out
        stores.append(db)
    return tmp, stores


@pytest.mark.slow
def test_shards_split_the_suite(shards: tuple[Path, list[str]]) -> None:
    _, stores = shards
    per_shard = [{(r["family"], r["variant"]) for r in Store(db).results("ci-42")} for db in stores]
    assert sum(len(s) for s in per_shard) == len(CASES) and set().union(*per_shard) == CASES
    assert per_shard[2] == set()  # two families, three shards: one shard is empty, not an error
    assert all(Store(db).run("ci-42")["status"] == "complete" for db in stores)


@pytest.mark.slow
def test_merge_is_complete_and_idempotent(shards: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, stores = shards
    out_db = str(tmp_path / "merged.sqlite")
    code, output = harness("merge", out_db, *stores)
    assert code == 0 and "results_added=5" in output and "samples_added=5" in output, output
    out = Store(out_db)
    rows = out.results("ci-42")
    assert {(r["family"], r["variant"]) for r in rows} == CASES and len(rows) == len(CASES)
    run = out.run("ci-42")
    assert run["status"] == "complete" and run["devices"] == ["host"]
    env_ids = {e["id"] for e in out.environments("ci-42")}
    for r in rows:  # samples and environments follow their results, under new ids
        assert len(out.samples(r["id"])) == r["latency_n"] and r["environment_id"] in env_ids
    int8 = next(r for r in rows if r["variant"] == "int8")
    assert int8["accuracy_delta_points"] is not None  # fp32 and int8 were measured in the same shard

    counts_before = _row_counts(tmp_path / "merged.sqlite")
    code, output = harness("merge", out_db, *stores)
    assert code == 0 and "results_added=0" in output and "results_already_there=5" in output, output
    assert _row_counts(tmp_path / "merged.sqlite") == counts_before

    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    code, output = harness("compare", "ci-42", "ci-42", "--store", out_db, "--junit", str(junit), "--markdown", str(md))
    assert code == 0 and "0 missing" in output, output
    assert junit.read_text().count('name="regression"') == len(CASES)
    assert "0 regression, 0 suspect, 0 improvement, 5 unchanged, 0 missing" in md.read_text()


@pytest.mark.slow
def test_conflicting_duplicate_is_refused_by_name(shards: tuple[Path, list[str]], tmp_path: Path) -> None:
    tmp, stores = shards
    suite = tmp / "sharded.yaml"
    again = str(tmp_path / "again.sqlite")  # shard 2 measured a second time: other latencies
    assert harness("run", str(suite), "--device", "host", "--store", again, "--shard", "2/3",
                   "--run-id", "ci-42")[0] == 0
    out = Store(str(tmp_path / "merged.sqlite"))
    merge(out, [open_source(db) for db in stores])
    before = _row_counts(tmp_path / "merged.sqlite")
    with pytest.raises(StoreError) as caught:
        merge(out, [open_source(again)])
    message = str(caught.value)
    conflicting = {(r["family"], r["variant"]) for r in Store(again).results("ci-42")}
    assert f"{len(conflicting)} conflicting result(s)" in message
    assert all(f"host {f}/{v} differs in" in message for f, v in conflicting)
    assert "latency samples" in message
    assert _row_counts(tmp_path / "merged.sqlite") == before  # nothing of that input was merged


def test_merge_refuses_a_missing_input_and_a_different_suite(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        open_source(str(tmp_path / "typo.sqlite"))
    a, b = Store(str(tmp_path / "a.sqlite")), Store(str(tmp_path / "b.sqlite"))
    a.start_run({"run_id": "r", "suite": "s", "suite_sha256": "1" * 64, "devices": ["x"]})
    b.start_run({"run_id": "r", "suite": "s", "suite_sha256": "2" * 64, "devices": ["y"]})
    out = Store(str(tmp_path / "out.sqlite"))
    merge(out, [a])
    with pytest.raises(StoreError, match="different suite_sha256"):
        merge(out, [b])
    with pytest.raises(StoreError, match="also the output store"):
        merge(out, [out])


def test_merge_combines_a_run_split_across_devices(tmp_path: Path) -> None:
    a, b = Store(str(tmp_path / "a.sqlite")), Store(str(tmp_path / "b.sqlite"))
    for store, device, status in ((a, "board-1", "complete"), (b, "board-2", "interrupted")):
        store.start_run({"run_id": "r", "suite": "s", "devices": [device]})
        store.record_result({"run_id": "r", "device": device, "family": "f", "variant": "v", "status": "ok"},
                            [1.0, 2.0])
        store.finish_run("r", status)
    out = Store(str(tmp_path / "out.sqlite"))
    counts = merge(out, [a, b])
    assert (counts.runs_added, counts.runs_combined, counts.results_added) == (1, 1, 2)
    run = out.run("r")
    assert run["devices"] == ["board-1", "board-2"] and run["status"] == "interrupted"
    assert sorted(r["device"] for r in out.results("r")) == ["board-1", "board-2"]
    assert merge(out, [a, b]).runs_combined == 0


def _row_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("runs", "environments", "results", "latency_samples")}

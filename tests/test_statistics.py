"""Latency statistics of the agent's library (the one copy every runner and the controller use)."""

from __future__ import annotations

import numpy as np

from harness.runtimes.agent import timed_loop
from harness.runtimes.agentlib import median_ci_ranks, percentile, summarize


def test_summary_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    samples = list(rng.lognormal(5, 0.3, 501))
    s = summarize(samples)
    assert s["n"] == 501
    for q in (50, 90, 99):
        assert abs(s[f"p{q}"] - np.percentile(samples, q)) < 1e-9
    assert abs(s["mean"] - np.mean(samples)) < 1e-9
    assert abs(s["std"] - np.std(samples, ddof=1)) < 1e-9
    assert (s["min"], s["max"]) == (min(samples), max(samples))
    assert s["median_ci_low"] <= s["p50"] <= s["median_ci_high"]


def test_median_ci_ranks_textbook_values() -> None:
    # n=100: the 95% CI of the median is bounded by the 40th and 61st order statistics.
    assert median_ci_ranks(100) == (39, 60)
    lo, hi = median_ci_ranks(1)
    assert (lo, hi) == (0, 0)


def test_median_ci_covers_95_percent() -> None:
    rng = np.random.default_rng(7)
    true_median = np.log(2)  # exponential(1)
    trials, covered = 2000, 0
    for _ in range(trials):
        s = summarize(list(rng.exponential(1.0, 60)))
        covered += s["median_ci_low"] <= true_median <= s["median_ci_high"]
    assert 0.93 <= covered / trials <= 0.98


def test_percentile_single_sample() -> None:
    assert percentile([3.0], 99) == 3.0
    assert summarize([3.0])["std"] == 0.0


def test_timed_loop_needs_both_count_and_time() -> None:
    calls = []
    samples = timed_loop(lambda: calls.append(1), count=5, min_seconds=0.05)
    assert len(samples) == len(calls) and len(samples) > 5  # time, not count, was the limit
    assert len(timed_loop(lambda: None, count=50, min_seconds=0.0)) == 50


def test_timed_loop_cap() -> None:
    import time

    samples = timed_loop(lambda: time.sleep(0.01), count=1000, min_seconds=0, max_seconds=0.05)
    assert 1 <= len(samples) < 20


def test_agent_runs_from_its_staged_files_alone(tmp_path) -> None:
    """On a board the agent is three staged files (names prefixed as the SSH transport stages
    them) and no `harness` package: a `harness` that refuses to import proves it needs none."""
    import json
    import shutil
    import subprocess
    import sys

    from harness.runtimes import adapters
    from harness.runners.agent_runner import AGENT_FILE, LIBRARY_FILE
    from harness.runners.base import Job
    from tests.conftest import REPO

    staged = {f: tmp_path / f"0123abcd-{f.name}" for f in (AGENT_FILE, LIBRARY_FILE, adapters.adapter_file("litert"))}
    for source, target in staged.items():
        shutil.copy(source, target)
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "__init__.py").write_text("raise ImportError('the agent imported harness')\n")
    model, data = REPO / "models/digits-cnn/tiny-int8.tflite", REPO / "models/digits-cnn/eval.npz"
    job = Job(model, data, 1, 0.0, 20, 0.0, accuracy_samples=50).agent_job(
        "litert", str(model), str(data), str(staged[adapters.adapter_file("litert")]), str(staged[LIBRARY_FILE]))
    done = subprocess.run([sys.executable, "-E", "-s", str(staged[AGENT_FILE])], input=json.dumps(job).encode(),
                          capture_output=True, cwd=tmp_path, timeout=300, check=True)
    reply = json.loads(done.stdout)
    assert reply["ok"], reply
    assert reply["latency_us"] == summarize(reply["samples_us"])  # the library's statistics, on the board
    assert reply["latency_us"]["n"] >= 20 and reply["accuracy"]["samples"] == 50

"""A/A and A/B power of regression detection on a busy machine, through the real CLI.

    nice -n 10 .venv/bin/python benchmarks/regression_power.py [--runs 10] [--slow-runs 10] [--keep DIR]
        [--compare-arg=--memory-pct=1e9 ...]   (extra `harness compare` options, printed)

While a CPU hog (a Python busy loop, one core) started and stopped here loads the machine:

A/A   `harness run suites/quickstart.yaml --device host` --runs times, same code and models;
      after every run from the second on, `harness compare last-good RUN --json` judges it
      against the history before it. Every case called a regression is a false regression
      (goal: 0), counted for latency (harness/results/history.py) and for any check (memory, energy,
      accuracy too). Suspects (a change seen once, history too short) are counted separately.
A/B   a "new release" whose mobilenetv2-035-96/fp32 is models/mobilenetv2-035-96-head (15 %
      more MACs), run --slow-runs times as the same suite and case (a temporary copy of the
      suite and models), each compared with `harness compare last-good RUN --json` against the
      A/A history. Detected when that case's verdict is a regression (goal: >= 9 of 10).
      Regressed runs are marked so by compare and never join the history.

Prints the environment, one line per comparison (verdicts, the case's shift and band, busy
reasons from the stored conditions) and the two figures. About 10 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SLOW_CASE = ("host", "mobilenetv2-035-96", "fp32")


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})


def run_suite(suite: Path, store: str) -> tuple[str, float]:
    started = time.monotonic()
    done = harness("run", str(suite), "--device", "host", "--store", store)
    if done.returncode not in (0, 1):  # 1: a threshold missed, still a measured run
        raise SystemExit(f"harness run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    run_id = next(line.split()[2] for line in done.stdout.splitlines() if line.startswith("run id:"))
    return run_id, time.monotonic() - started


def compare(store: str, run_id: str, extra: list[str]) -> dict[str, Any]:
    done = harness("compare", "last-good", run_id, "--store", store, "--json", *extra)
    if done.returncode not in (0, 4):
        raise SystemExit(f"harness compare failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


def busy_reasons(store: str, run_id: str) -> list[str]:
    from harness.results.store import Store

    rows = Store(store).results(run_id)
    return sorted({r for row in rows for r in ((row["conditions"] or {}).get("busy") or [])})


def latency_of(report: dict[str, Any], key: tuple[str, str, str]) -> dict[str, Any] | None:
    for v in report["verdicts"]:
        if v["new_key"] and tuple(v["new_key"]) == key:
            check = next((c for c in v["checks"] if c["metric"] == "latency"), None)
            return {"verdict": v["verdict"], **(check or {})}
    return None


def slow_release(tmp: Path) -> Path:
    """The quickstart's suite name and mobilenetv2-035-96/fp32 case, its model 15 % more MACs."""
    family = tmp / "models" / "mobilenetv2-035-96"
    shutil.copytree(REPO / "models" / "mobilenetv2-035-96", family)
    heavier = REPO / "models" / "mobilenetv2-035-96-head" / "fp32.tflite"
    shutil.copy(heavier, family / "fp32.tflite")
    manifest = json.loads((family / "manifest.json").read_text())
    fp32 = next(v for v in manifest["variants"] if v["name"] == "fp32")
    data = heavier.read_bytes()
    fp32.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    (family / "manifest.json").write_text(json.dumps(manifest, indent=2))
    quickstart = (REPO / "suites" / "quickstart.yaml").read_text()
    run_block = quickstart[quickstart.index("run:"):]
    suite = tmp / "quickstart-slow.yaml"
    suite.write_text("name: quickstart\nmodels:\n  - path: models/mobilenetv2-035-96\n    variants: [fp32]\n"
                     + run_block)
    return suite


def environment() -> list[str]:
    from harness.models.tflite_model import read_model

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True)
    macs = [read_model(REPO / "models" / f / "fp32.tflite").macs
            for f in ("mobilenetv2-035-96", "mobilenetv2-035-96-head")]
    return [f"python {platform.python_version()}, {platform.platform()}",
            f"cpu {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
            f"edge-harness {git.stdout.strip() or md.version('edge-harness') + ' (no git checkout)'}, ai-edge-litert {md.version('ai-edge-litert')}, "
            f"scipy {md.version('scipy')}",
            f"slow release: mobilenetv2-035-96/fp32 {macs[0]:,} MACs -> {macs[1]:,} MACs "
            f"(+{(macs[1] / macs[0] - 1) * 100:.1f} %)",
            "decision: harness compare defaults (latency threshold 10 %, effect floor 5 %, alpha 0.01, "
            "history: last 10 good runs, band from 3 runs on)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="A/A runs of the quickstart")
    parser.add_argument("--slow-runs", type=int, default=10, help="runs of the slower release")
    parser.add_argument("--keep", type=Path, help="keep the store and files here")
    parser.add_argument("--compare-arg", action="append", default=[], help="extra `harness compare` option")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="regression-power-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    store = str(tmp / "power.sqlite")
    print("\n".join(environment()))
    if args.compare_arg:
        print(f"harness compare also given: {' '.join(args.compare_arg)}")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    print(f"cpu hog: pid {hog.pid}, a Python busy loop on one core, for the whole benchmark")
    started = time.monotonic()
    try:
        false_regressions, suspects, cases, runs_flagged = 0, 0, 0, 0
        by_metric: dict[str, int] = {}
        print(f"\nA/A: {args.runs} runs of suites/quickstart.yaml on host, each compared with last-good "
              "and the history before it")
        for i in range(args.runs):
            run_id, took = run_suite(REPO / "suites" / "quickstart.yaml", store)
            line = f"  run {i + 1:2d} {run_id} {took:5.0f} s"
            if i:
                report = compare(store, run_id, args.compare_arg)
                verdicts = [v["verdict"] for v in report["verdicts"] if v["verdict"] != "missing"]
                regressed = verdicts.count("regression")
                false_regressions += regressed
                for metric in (c["metric"] for v in report["verdicts"] for c in v["checks"]
                               if c["verdict"] == "regression"):
                    by_metric[metric] = by_metric.get(metric, 0) + 1
                suspects += verdicts.count("suspect")
                cases += len(verdicts)
                runs_flagged += regressed > 0
                shifts = [f"{c['change']:+.1f}" for v in report["verdicts"] for c in v["checks"]
                          if c["metric"] == "latency" and c["change"] is not None]
                line += (f"  vs {report['base']}: {regressed} regression, {verdicts.count('suspect')} suspect, "
                         f"{verdicts.count('improvement')} improvement, {verdicts.count('unchanged')} unchanged; "
                         f"latency shifts % [{' '.join(shifts)}]")
            busy = busy_reasons(store, run_id)
            print(line + (f"; busy: {'; '.join(busy[:2])}" if busy else ""), flush=True)
        comparisons = max(args.runs - 1, 0)
        print(f"\nA/B: {args.slow_runs} runs of the slower release (mobilenetv2-035-96/fp32, +15 % MACs)")
        suite = slow_release(tmp)
        detected = 0
        for i in range(args.slow_runs):
            run_id, took = run_suite(suite, store)
            lat = latency_of(compare(store, run_id, args.compare_arg), SLOW_CASE) or {"verdict": "not compared", "note": ""}
            detected += lat["verdict"] == "regression"
            print(f"  slow {i + 1:2d} {run_id} {took:4.0f} s  {lat['verdict']}: {lat.get('note', '')}", flush=True)
    finally:
        hog.kill()
        hog.wait()
    minutes = (time.monotonic() - started) / 60
    print(f"\nfalse latency regressions (A/A, hog on): {by_metric.get('latency', 0)}/{cases} case comparisons")
    print(f"false regressions of any check (A/A, hog on): {false_regressions}/{cases} case comparisons "
          f"({', '.join(f'{m} {n}' for m, n in sorted(by_metric.items())) or 'none'}), "
          f"{runs_flagged}/{comparisons} run comparisons; suspects {suspects}/{cases}")
    print(f"detected slowdowns (+15 % MACs, hog on): {detected}/{args.slow_runs}")
    print(f"wall time {minutes:.1f} min; store {store}")
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The firmware's parsers of untrusted bytes under libFuzzer + ASan + UBSan (firmware/fuzz/):
the model loader (fuzz_model), the receive path of binary frames and commands (fuzz_frames)
and the MLPerf Tiny text commands (fuzz_text).

Every input that once crashed a target is replayed (tests/data/fuzz/TARGET/), then each target
runs for EH_FUZZ_SECONDS (30 by default, at most 60 in CI) from the seed corpus; a crash fails the
test with libFuzzer's report. `tools/fuzz.sh MINUTES` runs them for longer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require, require_tool

TARGETS = ("model", "frames", "text")
REGRESSIONS = REPO / "tests" / "data" / "fuzz"
SECONDS = min(60, int(os.environ.get("EH_FUZZ_SECONDS", "30")))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("clang")
    make = require_tool("make")
    out = tmp_path_factory.mktemp("fuzz")
    done = subprocess.run([make, "-s", "-j2", "-C", str(REPO / "firmware" / "fuzz"), f"OUT={out}"],
                          capture_output=True, text=True, timeout=600)
    require("libclang_rt" not in done.stderr,
            "clang's libFuzzer/sanitizer runtimes are not installed (libclang-rt-14-dev; make system-deps)")
    assert done.returncode == 0, done.stderr[-3000:]
    subprocess.run([sys.executable, str(REPO / "tools" / "fuzz_seeds.py"), str(out / "seeds")], check=True)
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_crash_inputs_found_before_stay_fixed(build: Path, target: str) -> None:
    inputs = sorted((REGRESSIONS / target).glob("*"))
    inputs = [p for p in inputs if p.is_file() and p.name != "README.md"] or sorted((build / "seeds" / target).iterdir())
    run = subprocess.run([str(build / f"fuzz_{target}"), *map(str, inputs)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-4000:]
    assert run.stderr.count("Executed ") == len(inputs), run.stderr[-2000:]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzzer_finds_no_crash(build: Path, target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    run = subprocess.run(
        [str(build / f"fuzz_{target}"), f"-max_total_time={SECONDS}", "-timeout=10", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/", str(corpus), str(build / "seeds" / target)],
        capture_output=True, text=True, timeout=SECONDS + 240)
    final = re.search(r"^#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+).*exec/s: (\d+)", run.stderr, re.MULTILINE)
    crashes = [p.name for p in tmp_path.iterdir() if p.name != "corpus"]
    assert run.returncode == 0 and not crashes, \
        f"fuzz_{target} found {crashes}; copy it to tests/data/fuzz/{target}/ after the fix\n{run.stderr[-4000:]}"
    assert final, run.stderr[-2000:]
    executions, cov, ft, rate = map(int, final.groups())
    print(f"fuzz_{target}: {executions} executions in {SECONDS} s ({rate}/s), cov {cov}, ft {ft}")
    assert executions > 100 and cov > 100

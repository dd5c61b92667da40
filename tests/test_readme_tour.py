"""The README tour is a test: after make demo's run, every command of the tour, in order, on a fresh
store in a temporary directory, exits with the code the README documents for it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def tour() -> list[tuple[str, set[int]]]:
    """(command, allowed exit codes) of every `harness` line of the README's tour block."""
    text = (REPO / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        command, _, comment = line.partition("  #")
        if command.startswith("harness "):
            commands.append((command.strip(), {0} | {int(c) for c in re.findall(r"exit (\d)", comment)}))
    return commands


def make_demo() -> tuple[str, set[int]]:
    """The harness command of `make demo`, and the codes its recipe accepts."""
    recipe = re.search(r"\$\(BIN\)/(harness .*?) \|\| test \$\$\? -eq (\d)", (REPO / "Makefile").read_text())
    assert recipe, "make demo's harness command not found in the Makefile"
    return recipe.group(1), {0, int(recipe.group(2))}


def test_tour_is_parsed() -> None:
    commands = [c for c, _ in tour()]
    assert len(commands) >= 12 and commands[0] == "harness devices"
    assert "harness compare last-good latest" in commands
    # identical code against make demo's run: never a regression (noisy latency and RSS-increase
    # memory are judged by their run-to-run history; one run of it makes a change suspect, exit 0)
    assert dict(tour())["harness compare last-good latest"] == {0}


def test_readme_tour_after_make_demo(tmp_path: Path) -> None:
    work = tmp_path / "checkout"  # the repo's inputs, a fresh store, outputs kept out of the repo
    work.mkdir()
    for name in ("models", "suites", "reports"):
        (work / name).symlink_to(REPO / name)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    env.pop("EDGE_HARNESS_STORE", None)
    env.pop("EDGE_HARNESS_PROFILES", None)
    for command, allowed in [make_demo(), *tour()]:
        argv = [sys.executable, "-m", "harness.cli", *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode in allowed, (f"`{command}` exited {done.returncode}, README says "
                                            f"{sorted(allowed)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    assert (tmp_path / "data" / "edge-harness" / "edge-harness.sqlite").is_file()
    assert not (work / "results").exists()

"""A real package: the built wheel, installed (not editable) into a fresh venv outside the checkout,
runs a user's .tflite from any directory with the shipped profiles, the packaged health-check model
and the packaged firmware sources, and stores results in the user's data folder, not ./results/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS, REPO, require_tool

pytestmark = pytest.mark.slow


CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def sh(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", CLEAN_ENV)  # the checkout on PYTHONPATH would pass for an installed package
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)
    assert done.returncode == 0, f"{argv}: {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # the files git knows, so no stale build/ of the checkout gets in
    files = sh(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"]).stdout
    for name in filter(None, files.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    sh([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)])
    [wheel] = (root / "dist").glob("edge_harness-*.whl")
    sh([sys.executable, "-m", "venv", str(root / "venv")])
    sh([str(root / "venv" / "bin" / "pip"), "install", "-q", "-c", str(REPO / "requirements.lock"), str(wheel)])
    return root / "venv"


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    """A user's shell: their own home, no PYTHONPATH, nothing of the checkout."""
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


def harness(venv: Path, env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return sh([str(venv / "bin" / "harness"), *args], env=env, cwd=cwd)


def test_installed_wheel_runs_a_tflite_from_anywhere(venv: Path, user: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "somewhere"
    work.mkdir()
    (work / "my_model.tflite").write_bytes((MODELS / "digits-cnn" / "int8.tflite").read_bytes())
    where = sh([str(venv / "bin" / "python"), "-c", "import harness.lab.health as h; print(h.__file__, h.CHECK_FILE)"],
               env=user, cwd=work).stdout.split()
    assert all(p.startswith(str(venv)) for p in where), where  # the wheel's files, not the checkout's

    run = harness(venv, user, work, "run", "my_model.tflite", "--device", "host")
    assert "my_model/my_model" in run.stdout and " ok " in run.stdout
    assert not (work / "results").exists()  # no silent ./results/ where the command ran
    store = Path(user["HOME"]) / ".local" / "share" / "edge-harness" / "edge-harness.sqlite"
    assert store.is_file() and str(store) in run.stdout

    # The board's first health check ran the packaged health-check model and passed.
    health = json.loads(harness(venv, user, work, "health", "--json").stdout)
    assert [(h["device"], h["health"]) for h in health] == [("host", "good")]
    listed = json.loads(harness(venv, user, work, "runs", "--json").stdout)
    assert listed[0]["ok"] == 1
    assert "ai-edge-litert" in harness(venv, user, work, "--version").stdout
    devices = {d["name"] for d in json.loads(harness(venv, user, work, "devices", "--json").stdout)}
    assert {"host", "host-tflm", "qemu-cortex-m", "rpi4"} <= devices


def test_installed_wheel_builds_the_packaged_firmware(venv: Path, user: dict[str, str], tmp_path: Path) -> None:
    require_tool("arm-none-eabi-gcc")
    code = "from harness.transports.qemu_mcu import build_firmware; print(build_firmware())"
    elf = Path(sh([str(venv / "bin" / "python"), "-c", code], env=user, cwd=tmp_path).stdout.strip())
    assert elf.is_file() and str(elf).startswith(user["HOME"])  # built in the user's cache, not site-packages

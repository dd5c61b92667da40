"""Where a result came from: harness version, git describe, controller host, run ids."""

from __future__ import annotations

import platform
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata

from harness import __version__
from harness.locations import SOURCE_ROOT

TRACKED_PACKAGES = ("ai-edge-litert", "tflite-micro", "numpy", "tflite-runtime", "pycoral")


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def git_describe() -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(SOURCE_ROOT), "describe", "--always", "--dirty", "--tags"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def controller() -> dict[str, str | None]:
    """The machine that drives the run, with the versions of the packages that matter."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"host": platform.node(), "python": platform.python_version(), "os": platform.platform(),
            "harness": __version__, "argv": " ".join(sys.argv), **versions}

"""The cycle-counting TCG plugin (firmware/qemu-plugin): built on first use with the host's
gcc like the firmware is with arm-none-eabi-gcc, given to qemu-system-arm with -plugin, its
log read back (format in firmware/qemu-plugin/cycles.c)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from harness.errors import ConfigError, InfrastructureError

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "firmware" / "qemu-plugin"
PLUGIN = REPO / "firmware" / "build" / "qemu-plugin" / "libcycles.so"
HINT = "apt-get install gcc make (tools/system-packages.txt)"


def build_plugin(timeout: float = 120.0) -> Path:
    """The plugin's shared object, (re)built with make when gcc is here (a no-op when fresh)."""
    if shutil.which("gcc") is None or shutil.which("make") is None or not PLUGIN_DIR.is_dir():
        if PLUGIN.is_file():
            return PLUGIN
        raise ConfigError(f"{PLUGIN} is missing and cannot be built: no gcc/make; {HINT}")
    try:
        done = subprocess.run(["make", "-C", str(PLUGIN_DIR)], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"building {PLUGIN} took more than {timeout:g} s") from None
    if done.returncode != 0 or not PLUGIN.is_file():
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise ConfigError(f"building the cycle plugin failed ({HINT}?): {' | '.join(tail)}")
    return PLUGIN


def plugin_argv(log: Path, exact_branches: bool = False, flash: tuple[int, int] | None = None) -> list[str]:
    """qemu-system-arm arguments that load the plugin, writing its counts to `log`."""
    args = [str(build_plugin()), f"out={log}", f"branches={'exact' if exact_branches else 'assumed'}"]
    if flash is not None:
        args.append(f"flash={flash[0]:#x}-{flash[1]:#x}")
    return ["-plugin", ",".join(args)]


def read_log(log: Path, offset: int = 0) -> tuple[list[str], list[list[dict[str, int]]], int]:
    """(class names, per-invocation per-operator counts, offset after the last whole line)
    from `offset` on; a line still being written is left for the next read."""
    data = log.read_bytes() if log.is_file() else b""
    head = data.split(b"\n", 1)[0].decode()
    if not head.startswith("H cycles/1 "):
        raise InfrastructureError(f"{log}: not a cycle plugin log (first line {head[:60]!r})")
    names = head.split("classes=", 1)[1].split(",")
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[offset:end].decode().splitlines():
        if not line.startswith("I "):
            continue
        values = [int(v) for v in line.split()[2:]]
        k = len(names)
        records.append([dict(zip(names, values[i:i + k])) for i in range(0, len(values), k)])
    return names, records, max(end, offset)


def read_totals(log: Path) -> dict[str, dict[str, int]]:
    """The exit lines: T (everything executed) and O (outside any invocation)."""
    names, _records, _end = read_log(log)
    out = {}
    for line in log.read_text().splitlines():
        if line[:2] in ("T ", "O "):
            out[line[0]] = dict(zip(names, (int(v) for v in line.split()[1:])))
    return out

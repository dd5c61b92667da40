"""The cycle-counting TCG plugin (firmware/qemu-plugin): built on first use with the host's
gcc like the firmware is with arm-none-eabi-gcc, given to qemu-system-arm with -plugin, its
log read back (format in firmware/qemu-plugin/cycles.c)."""

from __future__ import annotations

from pathlib import Path

from harness.building import make
from harness.errors import InfrastructureError
from harness.locations import firmware_build_dir, shipped

PLUGIN_DIR = shipped("firmware") / "qemu-plugin"
PLUGIN = firmware_build_dir() / "qemu-plugin" / "libcycles.so"
HINT = "apt-get install gcc make (tools/system-packages.txt)"


def build_plugin(timeout: float = 120.0) -> Path:
    """The plugin's shared object, (re)built with make when gcc is here (a no-op when fresh)."""
    return make(PLUGIN_DIR, PLUGIN, "the cycle plugin", "gcc", HINT, timeout, [f"OUT={PLUGIN.parent}"])


def plugin_argv(log: Path, exact_branches: bool = False, flash: tuple[int, int] | None = None) -> list[str]:
    """qemu-system-arm arguments that load the plugin, writing its counts to `log`."""
    args = [str(build_plugin()), f"out={log}", f"branches={'exact' if exact_branches else 'assumed'}"]
    if flash is not None:
        args.append(f"flash={flash[0]:#x}-{flash[1]:#x}")
    return ["-plugin", ",".join(args)]


def read_log(log: Path, offset: int = 0) -> tuple[list[str], list[list[dict[str, int]]], int]:
    """(class names, per-invocation per-operator counts, offset after the last whole line)
    from `offset` on; a line still being written is left for the next read."""
    try:
        with log.open("rb") as f:
            head = f.readline().decode()
            f.seek(max(offset, f.tell()))
            start = f.tell()
            data = f.read()
    except FileNotFoundError:
        raise InfrastructureError(f"{log}: the cycle plugin wrote no log (did QEMU load it?)") from None
    if not head.startswith("H cycles/1 "):
        raise InfrastructureError(f"{log}: not a cycle plugin log (first line {head[:60]!r})")
    names = head.strip().split("classes=", 1)[1].split(",")
    whole = data[:data.rfind(b"\n") + 1]
    records = []
    for line in whole.decode().splitlines():
        if not line.startswith("I "):
            continue
        values = [int(v) for v in line.split()[2:]]
        k = len(names)
        records.append([dict(zip(names, values[i:i + k])) for i in range(0, len(values), k)])
    return names, records, start + len(whole)


def read_totals(log: Path) -> dict[str, dict[str, int]]:
    """The exit lines: T (everything executed) and O (outside any invocation)."""
    names, _records, _end = read_log(log)
    out = {}
    for line in log.read_text().splitlines():
        if line[:2] in ("T ", "O "):
            out[line[0]] = dict(zip(names, (int(v) for v in line.split()[1:])))
    return out

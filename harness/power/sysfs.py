"""Reading small sysfs files here, or on a board through a command-running callable.

The hwmon and RAPL meters read counters that live on the measured machine. On this host
they open the files; for an SSH board the orchestration hands them `run(argv) -> stdout`
(a transport's run), so meters never import transports."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from harness.power.base import MeterError, MeterUnavailable

RunCommand = Callable[[list[str]], bytes]

_LIST_DIRS = 'for d in "$1"/*; do [ -e "$d/$2" ] && printf "%s\\n" "$d"; done; true'


class SysfsReader:
    def __init__(self, url: str, run: RunCommand | None) -> None:
        self.url, self.run = url, run

    def dirs_with(self, root: str, file_name: str) -> list[str]:
        """Directories under `root` that hold `file_name` (hwmon0..., intel-rapl:0...)."""
        if self.run is None:
            base = Path(root)
            if not base.is_dir():
                raise MeterUnavailable(f"{self.url}: {root} does not exist on this machine")
            return sorted(str(d) for d in base.iterdir() if (d / file_name).exists())
        out = self._remote(["sh", "-c", _LIST_DIRS, "sh", root, file_name])
        return sorted(line for line in out.splitlines() if line)

    def names(self, directory: str) -> list[str]:
        """The entries of one directory."""
        if self.run is None:
            try:
                return sorted(p.name for p in Path(directory).iterdir())
            except OSError as exc:
                raise MeterError(f"meter failed: {self.url}: cannot list {directory}: {exc.strerror}") from None
        return sorted(line for line in self._remote(["ls", "-1", directory]).splitlines() if line)

    def read(self, paths: list[str]) -> list[str]:
        """The stripped contents of each file, in order."""
        if self.run is None:
            try:
                return [Path(p).read_text().strip() for p in paths]
            except PermissionError as exc:
                raise MeterUnavailable(f"{self.url}: {exc.filename} is not readable "
                                       "(RAPL and some sensors need root)") from None
            except OSError as exc:
                raise MeterError(f"meter failed: {self.url}: cannot read {exc.filename}: {exc.strerror}") from None
        lines = self._remote(["cat", *paths]).splitlines()
        if len(lines) != len(paths):
            raise MeterError(f"meter failed: {self.url}: read {len(lines)} values from {len(paths)} files")
        return [line.strip() for line in lines]

    def close(self) -> None:
        """Let go of the board connection the command runner holds, if it holds one."""
        close = getattr(self.run, "close", None)
        if close is not None:
            close()

    def _remote(self, argv: list[str]) -> str:
        try:
            return self.run(argv).decode(errors="replace")
        except MeterError:
            raise
        except Exception as exc:  # a transport's InfrastructureError, or anything the callable raised
            raise MeterError(f"meter failed: {self.url}: {argv[0]} on the board: {exc}") from None

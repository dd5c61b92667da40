"""Where things are: shipped files, the project file, the default store, the profile search path.

Shipped files (device profiles, the health-check model, firmware sources, suites) live at the top
of the source tree; a built wheel carries them as the package `harness._shipped`, mapped there at
build time by pyproject.toml. They are found with importlib.resources, or, in a source checkout,
beside the `harness` package.

A project is the nearest folder, from the working directory up, holding `edge-harness.toml`
(found like pyproject.toml by ruff and pytest). Its keys, paths relative to the file:

    store = "results/edge-harness.sqlite"    # default store (a path or a URL)
    profiles = ["device_profiles"]           # searched before the shipped profiles

With no project, the store defaults to $XDG_DATA_HOME/edge-harness/edge-harness.sqlite
(~/.local/share/...) — never a ./results/ that appears wherever the command was run.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from harness.errors import ConfigError

PROJECT_FILE = "edge-harness.toml"
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """A shipped top-level folder (`device_profiles`, `firmware`, `health-check`, `suites`)."""
    packaged = resources.files("harness") / "_shipped" / name.replace("-", "_")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return SOURCE_ROOT / _SOURCE_DIRS.get(name, name)  # a source checkout (or an editable install)


# Where a shipped folder is in the source tree (pyproject.toml maps the same folders).
_SOURCE_DIRS = {"health-check": "models/digits-cnn"}


@dataclass(frozen=True)
class Project:
    root: Path
    store: str | None
    profiles: tuple[Path, ...]


def find_project(start: Path | None = None) -> Project | None:
    """The nearest edge-harness.toml from `start` (the working directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        file = folder / PROJECT_FILE
        if file.is_file():
            return _read_project(file)
    return None


@cache
def _read_project(file: Path) -> Project:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    unknown = sorted(set(data) - {"store", "profiles"})
    if unknown:
        raise ConfigError(f"{file}: unknown key {unknown[0]!r}; known keys: profiles, store")
    store, profiles = data.get("store"), data.get("profiles", [])
    if isinstance(profiles, str):
        profiles = [profiles]
    if store is not None and not isinstance(store, str) or not all(isinstance(p, str) for p in profiles):
        raise ConfigError(f"{file}: 'store' is a string and 'profiles' a list of folders")
    if store is not None and "://" not in store:
        store = str(file.parent / store)
    return Project(file.parent, store, tuple(file.parent / p for p in profiles))


def default_store() -> str:
    """$EDGE_HARNESS_STORE, else the project's store, else the user's data folder."""
    env = os.environ.get("EDGE_HARNESS_STORE")
    if env:
        return env
    project = find_project()
    if project is not None:
        return project.store or str(project.root / "results" / "edge-harness.sqlite")
    return str(data_dir() / "edge-harness.sqlite")


def profile_dirs(explicit: Path | None = None) -> list[Path]:
    """--profiles alone; else $EDGE_HARNESS_PROFILES (os.pathsep-separated), the project's
    profiles, then the shipped ones — earlier folders win on a name."""
    if explicit is not None:
        return [explicit]
    dirs = [Path(p) for p in os.environ.get("EDGE_HARNESS_PROFILES", "").split(os.pathsep) if p]
    project = find_project()
    if project is not None:
        dirs.extend(project.profiles)
    dirs.append(shipped("device_profiles"))
    return list(dict.fromkeys(dirs))


def data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "edge-harness"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edge-harness"

"""Dependencies whose next versions would break the harness are bounded (pyproject.toml says why),
and the lock file's exact versions fall inside those bounds."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
BOUNDED = {"joulescope", "ppk2-api", "tflite-micro"}  # APIs the meters/inspection code depend on


def requirements() -> dict[str, Requirement]:
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    found += [Requirement(r) for extra in PROJECT["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(r.name): r for r in found}


def test_fragile_dependencies_have_upper_bounds_and_no_exact_pin() -> None:
    reqs = requirements()
    for name in BOUNDED:
        operators = {spec.operator for spec in reqs[name].specifier}
        assert "<" in operators and "==" not in operators, f"{name}: {reqs[name]}"


def test_the_lock_satisfies_the_ranges() -> None:
    reqs = requirements()
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        name, version = line.split(";")[0].strip().split("==")
        req = reqs.get(canonicalize_name(name))
        if req is not None:
            assert req.specifier.contains(version, prereleases=True), f"{name}=={version} outside {req}"

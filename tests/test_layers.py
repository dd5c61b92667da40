"""The package's arrows point one way, so the layout stays true (docs/architecture.md):

    cli -> orchestration -> runners -> transports          results -> scoring -> report

Modules in no layer (errors, units, deadline, progress, registry, memory, models.formats, ...)
are shared utilities any layer may use.

Every module is imported (none is broken or cyclic at import), and every `import` in its source,
including those inside functions, is checked against the layer rules below."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "harness"

# module prefix -> layer; the longest matching prefix wins
LAYERS = {
    "harness.cli": "cli", "harness.cli.run": "cli", "harness.cli.compare": "cli", "harness.cli.runs": "cli",
    "harness.cli.views": "cli", "harness.api": "cli",
    "harness.lab.session": "orchestration", "harness.lab.case": "orchestration", "harness.lab.fleet": "orchestration",
    "harness.lab.health": "orchestration", "harness.lab.recovery": "orchestration", "harness.lab.board": "orchestration",
    "harness.lab.labgrid": "orchestration", "harness.lab.shard": "orchestration", "harness.lab.check": "orchestration",
    "harness.lab.planning": "orchestration", "harness.lab.inspection": "orchestration",
    "harness.lab.metering": "orchestration", "harness.lab.battery": "orchestration",  # metering during a case
    "harness.runners": "runners",
    "harness.transports": "transports",
    "harness.power": "meters",
    "harness.config.profiles": "config", "harness.config.suites": "config", "harness.config.configfile": "config",
    "harness.config.thresholds": "config", "harness.config.schemas": "config", "harness.config.targets": "config",
    "harness.config.datasets": "config", "harness.models.manifest": "config", "harness.models.manifest_init": "config",
    "harness.results.store": "results", "harness.results.merge": "results", "harness.results.baselines": "results",
    "harness.results.regression": "results", "harness.results.ci_outputs": "results", "harness.results.provenance": "results",
    "harness.results.history": "results",
    "harness.scoring": "scoring",
    "harness.report": "report",
}
# what each layer must never import
FORBIDDEN = {
    "transports": {"cli", "orchestration", "runners", "config", "results", "scoring", "report", "meters"},
    "meters": {"cli", "orchestration", "runners", "config", "results", "scoring", "report", "transports"},
    "runners": {"cli", "orchestration", "results", "scoring", "report"},
    "orchestration": {"cli"},
    "results": {"cli", "scoring", "report"},
    "scoring": {"cli", "orchestration", "report"},
    "report": {"cli", "orchestration", "runners", "transports"},
    # profile validation asks the transport and meter registries (and labgrid's template check)
    # which URLs exist, so config may import those; never what runs, stores or reports
    "config": {"cli", "runners", "results", "scoring", "report"},
}


def modules() -> list[str]:
    return sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py"))


def layer(module: str) -> str | None:
    matches = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def imports(module: str) -> set[str]:
    path = REPO / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = REPO / module.replace(".", "/") / "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("harness")}


@pytest.mark.parametrize("module", modules())
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_arrows_point_one_way() -> None:
    wrong = []
    for module in modules():
        own = layer(module)
        for target in imports(module):
            other = layer(target)
            if own and other and other != own and other in FORBIDDEN.get(own, ()):
                wrong.append(f"{module} ({own}) imports {target} ({other})")
    assert not wrong, "\n".join(sorted(set(wrong)))

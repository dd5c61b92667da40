"""The package's arrows point one way, so the layout stays true (docs/architecture.md):

    cli -> lab -> runners -> transports          results -> scoring -> report
                  runners -> runtimes            (report reads results and scores; scoring reads rows)

A folder is a layer; modules in no layer (errors, deadline, registry, locations, ...) are shared
infrastructure any layer may use, and import no layer themselves.

Every module is imported (none is broken or cyclic at import), and every `import` in its source,
including those inside functions, is checked against the rules below."""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "harness"

# module prefix -> layer; the longest matching prefix wins
LAYERS = {
    "harness.cli": "cli", "harness.api": "cli",
    "harness.lab": "lab",
    "harness.runtimes": "runtimes",
    "harness.runners": "runners",
    "harness.transports": "transports",
    "harness.power": "meters",
    "harness.config": "config",
    "harness.models": "models",
    "harness.measures": "measures",
    "harness.results": "results",
    "harness.scoring": "scoring",
    "harness.report": "report",
    "harness.testing": "testing",
    # the cycle estimate is one feature across layers: each module sits in its own
    "harness.cycles.compare": "cli", "harness.cycles.calibration": "results",
    "harness.cycles.profile": "config", "harness.cycles.runner": "runners",
}
EVERY = {"cli", "lab", "runtimes", "runners", "transports", "meters", "config", "models", "measures", "results",
         "scoring", "report", "testing"}
# what each layer may import besides itself and the shared infrastructure
ALLOWED = {
    "cli": EVERY,
    "testing": {"transports", "meters", "runners", "runtimes"},  # fakes of the lowest layers, for tests and users
    "lab": {"runners", "runtimes", "transports", "meters", "config", "models", "measures", "results"},
    # runners deploy models and read their manifests and datasets (config); they never store or report
    "runners": {"runtimes", "transports", "models", "measures", "config"},
    # the board agent and its adapters: standalone files on a board; the catalogue reads declarations
    "runtimes": set(),
    "transports": {"models"},  # the emulated MCU preloads the firmware's model partition image
    "meters": set(),
    # profile validation asks the transport and meter registries which URLs exist
    "config": {"transports", "meters", "models", "measures"},
    "models": {"runtimes", "config", "measures"},  # the fit check: which runtime reads a format, its limits
    "measures": {"config"},  # units of quantities
    "results": {"config", "measures"},
    "scoring": {"measures"},  # pure: rows in, scores out; nothing from config
    "report": {"results", "scoring", "config", "measures", "models"},
}


def modules() -> list[str]:
    return sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py") if "migrations/versions" not in p.as_posix())


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
    return {m for m in found if m.startswith("harness.")}


def wrong_arrows() -> list[str]:
    wrong = []
    for module in modules():
        own = layer(module)
        for target in imports(module):
            other = layer(target)
            if other is None or other == own:
                continue
            if own is None:
                wrong.append(f"{module} (shared infrastructure) imports {target} ({other})")
            elif other not in ALLOWED[own]:
                wrong.append(f"{module} ({own}) imports {target} ({other})")
    return sorted(set(wrong))


@pytest.mark.parametrize("module", [m for m in modules() if not m.endswith(".__main__")])  # __main__ runs
def test_every_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_every_folder_is_a_layer() -> None:
    """A new folder, or a module added beside the shared infrastructure, is placed on purpose."""
    infrastructure = {"harness", "harness.errors", "harness.deadline", "harness.rto", "harness.interrupts",
                      "harness.registry", "harness.masking", "harness.locations", "harness.building",
                      "harness.progress", "harness.cycles", "harness.cycles.model", "harness.cycles.plugin"}
    unplaced = [m for m in modules() if layer(m) is None and m not in infrastructure]
    assert not unplaced, f"modules in no layer: {unplaced} (place them in a folder, or list them here)"


def test_arrows_point_one_way() -> None:
    wrong = wrong_arrows()
    assert not wrong, "\n".join(wrong)


def test_the_named_arrows() -> None:
    """The issue's arrows, spelled out: cli -> lab -> runners -> transports and results ->
    scoring -> report each point down only; transports and meters know nothing of configuration,
    results or reports."""
    for low, high in [("lab", "cli"), ("runners", "lab"), ("runners", "cli"), ("transports", "runners"),
                      ("transports", "lab"), ("results", "scoring"), ("results", "report"),
                      ("scoring", "report"), ("scoring", "config")]:
        assert high not in ALLOWED[low], f"{low} may not import {high}"
    for layer_name in ("transports", "meters"):
        assert not ALLOWED[layer_name] & {"config", "results", "report"}


def test_the_rules_catch_a_wrong_arrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is live: a transport that imported the store would be reported."""
    real = imports

    def with_a_wrong_import(module: str) -> set[str]:
        found = real(module)
        return found | {"harness.results.store"} if module == "harness.transports.local" else found

    monkeypatch.setitem(globals(), "imports", with_a_wrong_import)
    assert wrong_arrows() == ["harness.transports.local (transports) imports harness.results.store (results)"]


def test_a_board_is_assembled_in_one_place() -> None:
    """From a profile to an open board goes through lab/board.py only, and down only: it is
    entered from the CLI and the session, and nothing it calls imports it back."""
    callers = {m for m in modules() if "harness.lab.board" in imports(m) or any(
        i.startswith("harness.lab.board.") for i in imports(m))}
    assert callers <= {"harness.cli.run", "harness.lab.session"}, callers
    opens = set()
    for module in modules():
        path = REPO / (module.replace(".", "/") + ".py")
        path = path if path.exists() else REPO / module.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("open_transport", "open_meter"):
                opens.add(module)
    assert opens == {"harness.lab.board"}, f"transports or meters opened outside lab/board.py: {opens}"

"""Implementations chosen by name or URL scheme (pyserial's serial_for_url idea), imported lazily.

Transports and power meters each keep one Registry: a module registers its class with
`@registry.register(scheme)`, and is imported only when a URL with that scheme is opened,
so `harness --help` never loads paramiko, pyserial or a meter vendor's package.

Plugins: a separate package adds a transport, meter, runtime, model format or report section
by declaring a Python entry point in the group `edge_harness.<kind>` (GROUPS below); the
entry point's name is the scheme or name, its value a module (which registers itself) or
`module:object`. Entry points are read once, at the registry's first use. The built-ins are
declared the same way in pyproject.toml; the tables in code are the same list, for a source
checkout that was never pip-installed.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar
from urllib.parse import urlsplit

from harness.errors import ConfigError

T = TypeVar("T")


GROUPS = {
    "transport": "edge_harness.transports",
    "power meter": "edge_harness.meters",
    "runtime": "edge_harness.runtimes",
    "model format": "edge_harness.model_formats",
    "report section": "edge_harness.report_sections",
}


def plugins(kind: str) -> dict[str, str]:
    """name -> 'module' or 'module:object' of the installed entry points of `kind`'s group."""
    return {ep.name: ep.value for ep in entry_points(group=GROUPS[kind])}


def load_object(spec: str) -> Any:
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: dict[str, str]) -> None:
        self.kind = kind
        self._builtin = modules  # scheme -> the module that registers it (or module:factory)
        self._modules: dict[str, str] | None = None
        self.factories: dict[str, Callable[..., T]] = {}

    @property
    def modules(self) -> dict[str, str]:
        """The built-ins and the installed plugins, read at first use."""
        if self._modules is None:
            self._modules = {**self._builtin, **plugins(self.kind)}
        return self._modules

    @property
    def schemes(self) -> tuple[str, ...]:
        return tuple(self.modules)

    def register(self, scheme: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            self.factories[scheme] = factory
            return factory

        return decorate

    def create(self, url: str, **options: Any) -> T:
        scheme = urlsplit(url).scheme
        if scheme not in self.factories:
            module = self.modules.get(scheme)
            if module is None:
                raise ConfigError(f"unknown {self.kind} scheme {scheme!r} in {url!r}; "
                                  f"use one of {', '.join(self.modules)}")
            try:
                loaded = load_object(module)
            except (ModuleNotFoundError, AttributeError) as exc:
                raise ConfigError(f"{self.kind} {scheme}:// is not available here: {exc}") from None
            if ":" in module:  # module:factory: an entry point naming its class
                self.factories.setdefault(scheme, loaded)
            if scheme not in self.factories:
                raise ConfigError(f"{self.kind} {scheme}://: {module} registers no {scheme!r}")
        return self.factories[scheme](url, **options)


class Catalog(Generic[T]):
    """Named objects (runtimes, model formats, report sections), built-ins and plugins alike,
    each 'module:object'; a class is instantiated once. Loaded at first use."""

    def __init__(self, kind: str, builtin: dict[str, str], instantiate: bool = True) -> None:
        self.kind = kind
        self._builtin = builtin
        self._instantiate = instantiate
        self._loaded: dict[str, T] | None = None

    def all(self) -> dict[str, T]:
        if self._loaded is None:
            found: dict[str, T] = {}
            for name, spec in {**self._builtin, **plugins(self.kind)}.items():
                try:
                    obj = load_object(spec)
                except (ImportError, AttributeError) as exc:
                    raise ConfigError(f"{self.kind} {name!r} ({spec}) cannot be loaded: {exc}") from None
                found[name] = obj() if self._instantiate and isinstance(obj, type) else obj
            self._loaded = found
        return self._loaded

    def get(self, name: str) -> T:
        found = self.all()
        if name not in found:
            raise ConfigError(f"unknown {self.kind} {name!r}; use one of {', '.join(found)}")
        return found[name]


MODEL_FORMATS: Catalog[Any] = Catalog("model format", {
    "tflite": "harness.models.formats:TfliteFormat",
    "onnx": "harness.models.formats:OnnxFormat",
    "pte": "harness.models.formats:PteFormat",
})
# A report section: a callable (result rows) -> HTML Markup, or None to leave it out of the run report.
REPORT_SECTIONS: Catalog[Any] = Catalog("report section", {
    "runtimes": "harness.report.runtimes:section",
}, instantiate=False)

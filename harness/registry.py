"""Implementations chosen by URL scheme (pyserial's serial_for_url idea), imported lazily.

Transports and power meters each keep one Registry: a module registers its class with
`@registry.register(scheme)`, and is imported only when a URL with that scheme is opened,
so `harness --help` never loads paramiko, pyserial or a meter vendor's package.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar
from urllib.parse import urlsplit

from harness.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: dict[str, str]) -> None:
        self.kind = kind
        self.modules = modules  # scheme -> the module that registers it
        self.factories: dict[str, Callable[..., T]] = {}

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
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                raise ConfigError(f"{self.kind} {scheme}:// is not available here: {exc}") from None
        return self.factories[scheme](url, **options)

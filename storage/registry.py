"""Name -> class registries for pluggable backends (embedders, vector index types).

An entry is ``"module:Class"`` and is imported on first use, so a GloVe query
never imports TensorFlow; a class object may be registered directly too. The
registry wraps a plain dict that modules can still extend as before
(``EMBEDDERS["mine"] = "pkg.mod:Mine"``).
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Generic, Iterator, TypeVar

T = TypeVar("T")

_MISSING = object()


class Registry(Generic[T]):
    """Backends of one kind, by name: ``registry.get("static")`` -> the class."""

    def __init__(self, what: str, entries: dict[str, str | type[T]] | None = None,
                 error: type[Exception] = LookupError, extra_names: tuple[str, ...] = ()):
        self.what = what
        self.entries = entries if entries is not None else {}
        self._error = error
        self._extra_names = extra_names  # accepted elsewhere, shown in "choose from" (e.g. auto)

    def names(self) -> list[str]:
        return list(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name`` (imported now if given as a path)."""
        target = self.entries.get(name, _MISSING)
        if target is _MISSING:
            choices = ", ".join([*sorted(self.entries), *self._extra_names])
            raise self._error(f"unknown {self.what} {name!r} (choose from {choices})")
        if isinstance(target, str):
            module_name, _, class_name = target.partition(":")
            return getattr(importlib.import_module(module_name), class_name)
        return target

    def register(self, name: str, target: str | type[T], *, replace: bool = False) -> None:
        """Add a backend; ``replace=True`` to override one of the same name."""
        if name in self.entries and not replace and self.entries[name] != target:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self.entries[name] = target

    def unregister(self, name: str) -> None:
        self.entries.pop(name, None)

    @contextmanager
    def registered(self, name: str, target: str | type[T]) -> Iterator[None]:
        """Register for the length of a ``with`` block (a test fixture), then restore."""
        previous = self.entries.get(name, _MISSING)
        self.entries[name] = target
        try:
            yield
        finally:
            if previous is _MISSING:
                self.entries.pop(name, None)
            else:
                self.entries[name] = previous

"""Observable state without Qt: plain-Python signals and a dataclass that emits on change.

This follows napari's ``EventedModel`` idea (``model.events.<field>.connect(callback)``) with
no dependency, so the player state can be tested without a display and observed by Qt widgets,
the worker and tests alike. Callbacks run synchronously in the thread that changed the value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


class Signal:
    """A list of callbacks called with the emitted arguments, in connection order."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``callback(*args)`` on each emit; returns it, so this works as a decorator."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        """Remove one callback (all of them when ``None``); unknown callbacks are ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for cb in list(self._callbacks):
            cb(*args)


class Events:
    """A namespace of named :class:`Signal` s, one per model field plus any extra action."""

    def __init__(self, names: list[str]) -> None:
        self._names = list(names)
        for n in names:
            setattr(self, n, Signal(n))

    def add(self, *names: str) -> None:
        for n in names:
            if n not in self._names:
                self._names.append(n)
                setattr(self, n, Signal(n))


class EventedModel:
    """Base for ``@dataclass`` models whose fields emit ``events.<name>(value)`` when they change.

    A subclass validates a field by defining ``_coerce_<name>(value) -> value`` (clamp or raise
    ``ValueError``). ``events.changed(name, value)`` fires after every field signal, for
    observers that want everything (persistence, logging).
    """

    _ready = False

    def __post_init__(self) -> None:
        names = [f.name for f in dataclasses.fields(self)]
        object.__setattr__(self, "events", Events([*names, "changed"]))
        for n in names:
            object.__setattr__(self, n, self._coerce(n, getattr(self, n)))
        object.__setattr__(self, "_ready", True)

    def _coerce(self, name: str, value: Any) -> Any:
        fn = getattr(self, f"_coerce_{name}", None)
        return fn(value) if fn is not None else value

    def __setattr__(self, name: str, value: Any) -> None:
        if not self._ready or name not in self._field_names():
            object.__setattr__(self, name, value)
            return
        value = self._coerce(name, value)
        old = getattr(self, name)
        if _same(old, value):
            return
        object.__setattr__(self, name, value)
        getattr(self.events, name).emit(value)
        self.events.changed.emit(name, value)

    @classmethod
    def _field_names(cls) -> frozenset[str]:
        names = cls.__dict__.get("_names_cache")
        if names is None:
            names = frozenset(f.name for f in dataclasses.fields(cls))
            cls._names_cache = names
        return names


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b

"""A name -> component registry whose entries may be loaded lazily.

Every registry of nasrepro (spaces, strategies, benchmarks) is one :class:`Registry`.
An entry is either the component itself (registered by a decorator) or a
``"module:attribute"`` reference, imported on the first :meth:`Registry.get`: the
built-in plugins are declared that way, so listing them needs no import, and a
component of an optional layer (the surrogate benchmarks) is there without
importing that layer first. An import error of a lazy entry is not swallowed.

Example:
    >>> reg: Registry[object] = Registry("thing")
    >>> reg.add("pi", "math:pi")
    >>> reg.names(), round(float(reg.get("pi")), 2)
    (['pi'], 3.14)
"""

from __future__ import annotations

import importlib
import logging
from typing import Generic, TypeVar, cast

__all__ = ["Registry", "resolve_reference"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def resolve_reference(ref: str) -> object:
    """The object a ``"module:attribute"`` reference names (dotted attributes allowed).

    Raises:
        ImportError: The module cannot be imported (not swallowed: it is a bug or a
            missing extra).
        AttributeError: The module has no such attribute.
    """
    module_name, _, attr = ref.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _reference_of(obj: object) -> str:
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"


class Registry(Generic[T]):
    """Named components of one kind, some of them declared as lazy references.

    Args:
        kind: What the entries are (``"space"``, ``"strategy"``), for messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    def taken(self, name: str, obj: T | str) -> bool:
        """Whether registering ``obj`` as ``name`` would replace another component.

        Registering the very object a lazy entry refers to fulfils that entry (a
        decorated class whose module is being imported), so it is not taken.
        """
        if name not in self._entries:
            return False
        held = self._entries[name]
        return not (
            isinstance(held, str) and not isinstance(obj, str) and held == _reference_of(obj)
        )

    def held(self, name: str) -> T | str:
        """The entry ``name`` as stored (a lazy one stays a reference); ``KeyError`` if none."""
        return self._entries[name]

    def add(self, name: str, obj: T | str) -> None:
        """Store ``obj`` (a component, or a ``"module:attribute"`` reference) as ``name``.

        The caller refuses duplicates first (see :meth:`taken`), with its own message.
        """
        if isinstance(obj, str) and ":" not in obj:
            raise ValueError(f"a lazy {self.kind} entry must read 'module:attribute', got {obj!r}")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        """The component ``name``, importing it first if it was declared lazily.

        Raises:
            KeyError: No entry has that name (callers turn it into their own error).
            ImportError: A lazy entry's module cannot be imported.
        """
        held = self._entries[name]
        if isinstance(held, str):
            logger.debug("loading %s %r from %s", self.kind, name, held)
            obj = cast(T, resolve_reference(held))
            self._entries[name] = obj
            return obj
        return held

    def names(self) -> list[str]:
        """Names of every entry, loaded or not, sorted."""
        return sorted(self._entries)

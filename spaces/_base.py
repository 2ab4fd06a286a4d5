"""Base types of a search space, and the space registry."""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from nasrepro.spaces._columns import SpecColumns
from nasrepro.spaces._errors import NasreproError
from nasrepro.spaces._registry import Registry
from nasrepro.spaces._spec import NetworkSpec

__all__ = [
    "Architecture",
    "Decisions",
    "SearchSpace",
    "SpaceError",
    "register_space",
    "get_space",
    "list_spaces",
    "parse_any",
    "quote",
]

#: At most this many characters of user input are quoted in an error message.
QUOTE_LIMIT = 200


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(text)`` for an error message, clipped to ``limit`` characters of ``text``.

    A clipped quote ends with ``... (N characters)``, so a huge argument gives a short
    message that still says how long the input was.

    Example:
        >>> quote("ab")
        "'ab'"
        >>> quote("x" * 500, limit=3)
        "'xxx'... (500 characters)"
    """
    s = text if isinstance(text, str) else str(text)
    if len(s) <= limit:
        return repr(s)
    return f"{s[:limit]!r}... ({len(s)} characters)"


class SpaceError(NasreproError, ValueError):
    """An architecture or space argument is invalid."""


class Architecture(abc.ABC):
    """A point in a search space: a frozen, hashable dataclass in each space.

    Subclasses must round-trip exactly through :meth:`to_string` / :meth:`from_string`
    and :meth:`to_dict` / :meth:`from_dict`.
    """

    space_name: ClassVar[str]

    @abc.abstractmethod
    def to_string(self) -> str:
        """The canonical textual form of this architecture."""

    @classmethod
    @abc.abstractmethod
    def from_string(cls, s: str) -> Architecture:
        """Parse ``s`` (surrounding whitespace ignored); raise :class:`SpaceError` (a
        ``ValueError``) naming the position."""

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space_name, "arch": self.to_string()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Architecture:
        if d.get("space") != cls.space_name:
            raise SpaceError(f"expected space {cls.space_name!r}, got {d.get('space')!r}")
        return cls.from_string(str(d["arch"]))

    def __str__(self) -> str:
        return self.to_string()


A = TypeVar("A", bound=Architecture)


class Decisions:
    """A space seen as a fixed list of categorical decisions, with arch <-> code conversion.

    Strategies that keep a per-decision distribution (REINFORCE's policy, BOHB's
    kernel density) need this view; :meth:`SearchSpace.decisions` gives it, or
    ``None`` for a space without one. A subclass implements :meth:`to_codes` and
    :meth:`from_codes`.

    Args:
        names: One name per decision (e.g. the cell's edges ``"0->1"``).
        choices: The choices of each decision, in code order.

    Attributes:
        n_choices: Number of choices of each decision, shape ``(n_decisions,)``.
    """

    def __init__(self, names: Iterable[str], choices: Iterable[Iterable[str]]) -> None:
        self.names = tuple(names)
        self.choices = tuple(tuple(c) for c in choices)
        if len(self.names) != len(self.choices):
            raise ValueError(f"{len(self.names)} decision names for {len(self.choices)} decisions")
        self.n_choices = np.array([len(c) for c in self.choices], dtype=np.int64)

    @property
    def n_decisions(self) -> int:
        return len(self.n_choices)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        """Choice index of every decision, int64 ``(n_decisions,)``."""
        raise NotImplementedError

    def from_codes(self, codes: np.ndarray) -> Architecture:
        """The architecture with these choice indices (``(n_decisions,)`` ints)."""
        raise NotImplementedError


class SearchSpace(abc.ABC, Generic[A]):
    """A search space. Stateless apart from its constructor arguments.

    The methods are independent; none needs another to have been called first.
    Bounded spaces also implement :meth:`enumerate` and :attr:`size`. Hooks with a
    default that a space may override: :meth:`representatives` (a faster form),
    :meth:`decisions` (``None``: no categorical view), :meth:`encodings` (what
    :meth:`encode` accepts), :meth:`index_of` (``None``: no index) and
    :meth:`lower_columns` (a faster batch form of :meth:`lower`).

    Every method that takes an architecture also takes its string (parsed with
    :meth:`parse`, whose errors name the position), and :meth:`sample` and
    :meth:`mutate` take an ``int`` seed where a ``numpy.random.Generator`` goes; a
    subclass gets this for the methods it defines (:data:`_LENIENT`).
    """

    name: ClassVar[str]
    arch_type: ClassVar[type[Architecture]]
    bounded: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for method, n_archs, rng_at in _LENIENT:
            f = cls.__dict__.get(method)
            if f is not None and not getattr(f, "__lenient__", False):
                setattr(cls, method, _lenient(f, n_archs, rng_at))

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> A:
        """Draw one architecture uniformly (or from the space's documented prior)."""

    @abc.abstractmethod
    def mutate(self, arch: A, rng: np.random.Generator) -> A:
        """Return a valid architecture that differs from ``arch`` in one decision."""

    @abc.abstractmethod
    def neighbors(self, arch: A) -> list[A]:
        """All architectures at distance 1 (one decision changed), in a fixed order."""

    @abc.abstractmethod
    def encode(self, arch: A, kind: str = "adjacency") -> np.ndarray:
        """A fixed-length float feature vector of ``arch``. Shape ``(n_features,)``."""

    @abc.abstractmethod
    def lower(self, arch: A, *, C: int = 16, N: int = 5, **macro: Any) -> NetworkSpec:
        """Lower to the shared IR. ``C`` initial channels, ``N`` cells per stage."""

    @abc.abstractmethod
    def canonical(self, arch: A) -> A:
        """The representative of ``arch``'s equivalence class (idempotent)."""

    def parse(self, s: str) -> A:
        """Parse an architecture string of this space."""
        return self.arch_type.from_string(s)  # type: ignore[return-value]

    def lower_columns(self, archs: Sequence[A | str], **macro: Any) -> SpecColumns:
        """:meth:`lower` of many architectures (objects or strings), as flat arrays.

        The default parses and lowers each one; a space may build the arrays directly.
        Either way the columns describe the same networks as :meth:`lower` (tested).
        """
        specs = [self.lower(self.parse(a) if isinstance(a, str) else a, **macro) for a in archs]
        return SpecColumns.from_specs(specs)

    @abc.abstractmethod
    def distance(self, a: A, b: A) -> int:
        """Number of single-decision moves between ``a`` and ``b`` (``neighbors`` are at 1)."""

    def enumerate(self) -> Iterator[A]:
        """All architectures in the documented order (bounded spaces only)."""
        raise SpaceError(f"space {self.name!r} is unbounded and cannot be enumerated")

    @property
    def size(self) -> int:
        raise SpaceError(f"space {self.name!r} is unbounded and has no size")

    def representatives(self) -> list[A]:
        """One architecture per equivalence class, in enumeration order (bounded spaces).

        The default enumerates the space and keeps each class's first canonical form.
        """
        seen: dict[A, None] = {}
        for a in self.enumerate():
            seen.setdefault(self.canonical(a), None)
        return list(seen)

    def decisions(self) -> Decisions | None:
        """The fixed-length categorical view of the space, or ``None`` if it has none."""
        return None

    def encodings(self) -> tuple[str, ...]:
        """The ``kind`` values :meth:`encode` accepts, the default first."""
        return ("adjacency",)

    def index_of(self, arch: A) -> int | None:
        """Position of ``arch`` in :meth:`enumerate` order, or ``None`` if the space has none."""
        return None

    def info(self) -> dict[str, Any]:
        """A short description for ``nasrepro space info``."""
        return {"name": self.name, "bounded": self.bounded}


#: (method, how many leading architecture arguments, position of its rng or None).
_LENIENT = (
    ("sample", 0, 0),
    ("mutate", 1, 1),
    ("neighbors", 1, None),
    ("encode", 1, None),
    ("lower", 1, None),
    ("canonical", 1, None),
    ("distance", 2, None),
    ("index_of", 1, None),
)


def _lenient(f: Callable[..., Any], n_archs: int, rng_at: int | None) -> Callable[..., Any]:
    """``f`` parsing string architectures and seeding an ``int`` rng (see :class:`SearchSpace`)."""

    @functools.wraps(f)
    def method(self: SearchSpace[Any], *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, str) for a in args[:n_archs]) or (
            rng_at is not None and len(args) > rng_at and isinstance(args[rng_at], int | np.integer)
        ):
            args = tuple(
                self.parse(a) if i < n_archs and isinstance(a, str) else a
                for i, a in enumerate(args)
            )
            if (
                rng_at is not None
                and len(args) > rng_at
                and isinstance(args[rng_at], int | np.integer)
            ):
                args = (*args[:rng_at], np.random.default_rng(args[rng_at]), *args[rng_at + 1 :])
        return f(self, *args, **kwargs)

    method.__lenient__ = True  # type: ignore[attr-defined]
    return method


#: The built-in spaces, imported on first use.
_REGISTRY: Registry[Callable[..., SearchSpace[Any]]] = Registry("space")
_REGISTRY.add("cell", "nasrepro.spaces._cell:CellSpace")
_REGISTRY.add("chain", "nasrepro.spaces._chain:ChainSpace")
_REGISTRY.add("hierarchical", "nasrepro.spaces._hier:HierSpace")


def register_space(name: str) -> Callable[[type[SearchSpace[Any]]], type[SearchSpace[Any]]]:
    """Class decorator registering a space under ``name``; refuses duplicates."""

    def deco(cls: type[SearchSpace[Any]]) -> type[SearchSpace[Any]]:
        if _REGISTRY.taken(name, cls):
            raise ValueError(f"a space named {name!r} is already registered")
        cls.name = name
        _REGISTRY.add(name, cls)
        return cls

    return deco


def get_space(name: str, **kwargs: Any) -> SearchSpace[Any]:
    """Instantiate the space registered as ``name``.

    Example:
        >>> space = get_space("cell")
        >>> space.size
        15625
    """
    try:
        factory = _REGISTRY.get(name)
    except KeyError:
        raise SpaceError(
            f"unknown space {quote(name)}; choose one of {_REGISTRY.names()}"
        ) from None
    return factory(**kwargs)


def list_spaces() -> list[str]:
    """Names of the registered spaces, sorted."""
    return _REGISTRY.names()


def parse_any(s: str, space: str | None = None) -> Architecture:
    """Parse ``s`` in ``space``, or guess the space from the string's shape."""
    if space is not None:
        return get_space(space).parse(s)
    errors = []
    for name in list_spaces():
        try:
            return get_space(name).parse(s)
        except ValueError as e:
            errors.append(f"{name}: {e}")
    raise SpaceError("no space parses this string: " + "; ".join(errors))

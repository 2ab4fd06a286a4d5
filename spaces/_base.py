"""Base types of a search space, and the space registry."""

from __future__ import annotations

import abc
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from nasrepro.spaces._columns import SpecColumns
from nasrepro.spaces._errors import ConfigError, NasreproError
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

logger = logging.getLogger(__name__)

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
    #: Whether architectures that :meth:`canonical` joins may lower to networks that a
    #: surrogate's graph features tell apart. Where it is true, a surrogate featurizes
    #: each architecture's representative, the one a table of the space answers for,
    #: so that the members of a class get one prediction. The cell space sets it: its
    #: classes join isomorphic cells (an identity edge merges two nodes) and cells
    #: whose dead edges the lowering keeps with their parameters. Where :meth:`canonical`
    #: only drops what the features ignore anyway (the hierarchical space's dead edges),
    #: leave it false and save the cost.
    features_of_canonical: ClassVar[bool] = False

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


def _check_args(space: SearchSpace[Any], name: str, args: tuple[Any, ...], n_archs: int,
                rng_at: int | None) -> None:  # fmt: skip
    """Refuse an architecture of another space, and an rng that is neither an ``int`` nor
    a ``numpy.random.Generator``, naming what was given and what is expected."""
    want = getattr(space, "arch_type", None)
    for a in args[:n_archs]:
        if want is not None and isinstance(a, Architecture) and not isinstance(a, want):
            other = getattr(a, "space_name", "?")
            raise SpaceError(
                f"{space.name}.{name}() got a {type(a).__name__} (an architecture of the "
                f"{other!r} space); it takes {want.__name__}s of the {space.name!r} space, or "
                "their strings"
            )
    if rng_at is not None and len(args) > rng_at:
        rng = args[rng_at]
        if not isinstance(rng, np.random.Generator | int | np.integer) or isinstance(rng, bool):
            raise SpaceError(
                f"{space.name}.{name}() got rng {rng!r} ({type(rng).__name__}); pass an int "
                "seed or a numpy.random.Generator (np.random.default_rng(seed)): a seed keeps "
                "the draw reproducible"
            )


def _lenient(f: Callable[..., Any], n_archs: int, rng_at: int | None) -> Callable[..., Any]:
    """``f`` parsing string architectures and seeding an ``int`` rng (see :class:`SearchSpace`)."""

    @functools.wraps(f)
    def method(self: SearchSpace[Any], *args: Any, **kwargs: Any) -> Any:
        _check_args(self, f.__name__, args, n_archs, rng_at)
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


def _qualified(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _check_space_class(name: str, cls: object) -> None:
    """Refuse a class that cannot work as the space ``name`` (see :func:`register_space`)."""
    if not (isinstance(cls, type) and issubclass(cls, SearchSpace)):
        raise SpaceError(
            f"@register_space({name!r}) was applied to {cls!r}, which is not a class "
            "deriving from nasrepro.spaces.SearchSpace; subclass SearchSpace"
        )
    q = _qualified(cls)
    left = sorted(getattr(cls, "__abstractmethods__", ()))
    if left:
        raise SpaceError(
            f"space {name!r} ({q}) does not implement the abstract method(s) {', '.join(left)} "
            "of SearchSpace; define them before registering it"
        )
    arch = cls.__dict__.get("arch_type", getattr(cls, "arch_type", None))
    if not (isinstance(arch, type) and issubclass(arch, Architecture)):
        raise SpaceError(
            f"space {name!r} ({q}) needs a class attribute arch_type naming its architecture "
            f"class (a frozen dataclass deriving from nasrepro.spaces.Architecture), got {arch!r}"
        )
    a = arch.__qualname__
    left = sorted(getattr(arch, "__abstractmethods__", ()))
    if left:
        raise SpaceError(
            f"space {name!r}: its arch_type {a} does not implement the abstract method(s) "
            f"{', '.join(left)} of Architecture; define them before registering the space"
        )
    arch_space = getattr(arch, "space_name", None)
    if arch_space != name:
        raise SpaceError(
            f"space {name!r}: its arch_type {a} has space_name {arch_space!r}; set "
            f"`space_name: ClassVar[str] = {name!r}` on {a} (to_dict, from_dict and tables "
            "use it to find the space of an architecture)"
        )
    params = getattr(arch, "__dataclass_params__", None)
    if params is not None and not params.frozen:
        raise SpaceError(
            f"space {name!r}: its arch_type {a} is a dataclass that is not frozen; declare it "
            "@dataclass(frozen=True) (architectures are dictionary keys and must not change)"
        )
    if arch.__hash__ is None:
        raise SpaceError(
            f"space {name!r}: its arch_type {a} is not hashable; make it a "
            "@dataclass(frozen=True) (architectures are dictionary keys)"
        )


def register_space(name: str) -> Callable[[type[SearchSpace[Any]]], type[SearchSpace[Any]]]:
    """Class decorator registering a :class:`SearchSpace` subclass under ``name``.

    The class is checked when it is registered: it must implement every abstract
    method of :class:`SearchSpace` (``sample``, ``mutate``, ``neighbors``, ``encode``,
    ``lower``, ``canonical``, ``distance``), and name its architecture class in
    ``arch_type``: an :class:`Architecture` subclass that is a frozen (hashable)
    dataclass whose ``space_name`` is ``name``. :func:`get_space` checks a user space
    once more on its first use in a process: ``sample`` and ``canonical`` return an
    ``arch_type``, and ``lower`` accepts the macro keywords ``C``, ``N`` and
    ``reduction`` that training protocols pass, and returns a :class:`NetworkSpec`.

    A space registered in a script or a notebook (``__main__``) is unknown to other
    processes: the command line, sweep workers and the leaderboard's contract check.
    Put the class in a file and name it in the environment variable
    ``NASREPRO_PLUGINS`` (comma-separated module names or ``.py`` paths), or declare
    an entry point in the group ``nasrepro.spaces``; :func:`get_space` imports those
    on an unknown name (see :mod:`nasrepro.spaces._plugins`).

    Registering a class under a name already taken is refused, except for a class of
    the same qualified name (module and class name), which replaces the old one: a
    notebook that runs the cell defining the space again.

    Args:
        name: The space's name, as ``get_space``, tables and the CLI spell it.

    Returns:
        The decorator; it sets ``cls.name`` and returns the class unchanged.

    Raises:
        SpaceError: The class fails one of the checks above, or ``name`` is taken by
            another class. The message names the fix.

    Example:
        >>> @register_space("tinycell")  # doctest: +SKIP
        ... class TinyCellSpace(SearchSpace[TinyCellArch]):
        ...     arch_type = TinyCellArch
        ...     ...
    """
    if not isinstance(name, str) or not name.strip() or "," in name:
        raise SpaceError(f"a space name must be a non-empty string without commas, got {name!r}")

    def deco(cls: type[SearchSpace[Any]]) -> type[SearchSpace[Any]]:
        _check_space_class(name, cls)
        if _REGISTRY.taken(name, cls):
            held = _REGISTRY.held(name)
            held_q = held.replace(":", ".") if isinstance(held, str) else _qualified(held)
            if held_q != _qualified(cls):
                raise SpaceError(
                    f"a space named {name!r} is already registered ({held_q}); register "
                    f"{_qualified(cls)} under another name"
                )
            logger.debug("space %r: %s defined again, replacing the old class", name, held_q)
            _CHECKED.discard(held)  # type: ignore[arg-type]
        cls.name = name
        _REGISTRY.add(name, cls)
        return cls

    return deco


#: User space classes that passed :func:`_check_first_use` in this process.
_CHECKED: set[type] = set()
#: The keywords of ``lower`` that the first-use check passes (as protocols do).
_CHECK_MACRO: dict[str, Any] = {"C": 4, "N": 1, "reduction": "resblock"}


def _check_first_use(space: SearchSpace[Any]) -> None:
    """Check once per process and class that a user space's ``sample``, ``canonical``
    and ``lower`` return what the library needs (the built-in spaces are tested)."""
    cls = type(space)
    if cls in _CHECKED or cls.__module__.startswith("nasrepro.spaces."):
        return
    name, arch_type = cls.name, cls.arch_type
    arch = space.sample(np.random.default_rng(0))
    if not isinstance(arch, arch_type):
        raise SpaceError(
            f"space {name!r}: sample() returned {type(arch).__qualname__}, not its "
            f"arch_type {arch_type.__qualname__}; return an instance of {arch_type.__qualname__}"
        )
    canon = space.canonical(arch)
    if not isinstance(canon, arch_type):
        raise SpaceError(
            f"space {name!r}: canonical() returned {type(canon).__qualname__}, not its "
            f"arch_type {arch_type.__qualname__}; return the representative architecture "
            "(the architecture itself if every one is its own class)"
        )
    call = ", ".join(f"{k}={v!r}" for k, v in _CHECK_MACRO.items())
    try:
        spec = space.lower(canon, **_CHECK_MACRO)
    except TypeError as e:
        raise SpaceError(
            f"space {name!r}: lower(arch, {call}) raised TypeError: {e}; lower() must "
            "accept the keywords C, N and reduction that training protocols pass, as "
            "CellSpace.lower does (reduction: a key of nasrepro.spaces.REDUCTIONS)"
        ) from e
    if not isinstance(spec, NetworkSpec):
        raise SpaceError(
            f"space {name!r}: lower(arch, {call}) returned {type(spec).__qualname__}, not a "
            "nasrepro.spaces.NetworkSpec; build one (nasrepro.spaces.nb201_skeleton helps)"
        )
    _CHECKED.add(cls)


def _load_plugins() -> None:
    """Import the plugins (:mod:`nasrepro.spaces._plugins`); an entry point that names an
    undecorated space class registers it under the entry point's name."""
    from nasrepro.spaces._plugins import load_plugins

    for ep_name, obj in load_plugins():
        if isinstance(obj, type) and issubclass(obj, SearchSpace) and ep_name not in _REGISTRY:
            register_space(ep_name)(obj)


def _unknown(name: object) -> SpaceError:
    from nasrepro.spaces._plugins import ENTRY_POINT_GROUP, PLUGINS_ENV, plugin_specs

    specs = plugin_specs()
    ok = isinstance(name, str) and name.isidentifier() and len(name) <= 40
    stem = name if ok else "my_space"
    tried = f"${PLUGINS_ENV}={','.join(specs)!r}" if specs else f"${PLUGINS_ENV} is not set"
    return SpaceError(
        f"unknown space {quote(name)}; choose one of {_REGISTRY.names()} ({tried}). A space "
        "registered with @register_space in __main__ (a script or a notebook) is unknown to "
        "other processes (the nasrepro command line, sweep workers, the leaderboard's "
        "contract check): put it in a file and name that in the environment, e.g. "
        f"{PLUGINS_ENV}=path/to/{stem}.py "
        f"(comma-separated .py paths or module names), or declare an entry point in the "
        f"group {ENTRY_POINT_GROUP!r}"
    )


def get_space(name: str, **kwargs: Any) -> SearchSpace[Any]:
    """Instantiate the space registered as ``name``.

    An unknown name imports the plugins first (``$NASREPRO_PLUGINS`` and the entry
    points of the group ``nasrepro.spaces``) and looks again; a user space is checked
    on its first use in the process (see :func:`register_space`).

    Raises:
        SpaceError: No space has that name; the message says how to make one known.
        ConfigError: A plugin is missing or failed to import.

    Example:
        >>> space = get_space("cell")
        >>> space.size
        15625
    """
    if not (isinstance(name, str) and name in _REGISTRY):
        if isinstance(name, str):
            _load_plugins()
        if not (isinstance(name, str) and name in _REGISTRY):
            raise _unknown(name)
    space = _REGISTRY.get(name)(**kwargs)
    _check_first_use(space)
    return space


def list_spaces() -> list[str]:
    """Names of the registered spaces, sorted, the plugins' included (imported first)."""
    _load_plugins()
    return _REGISTRY.names()


def parse_in(space: SearchSpace[Any], s: str) -> Architecture:
    """``space.parse(s)``, where a string another built-in space parses says so.

    Raises:
        ValueError: ``s`` is not an architecture of ``space``; when it is one of another
            registered space, the message names that space (a cell string given to a
            chain table said only where the chain parser stopped).
    """
    try:
        return space.parse(s)
    except ValueError as e:
        for name in _REGISTRY.names():
            if name == space.name:
                continue
            try:
                get_space(name).parse(s)
            except Exception:  # noqa: BLE001 (any failure: not that space's string)
                continue
            raise ConfigError(
                f"{s!r} is a {name!r} architecture, but this table or search is of the "
                f"{space.name!r} space; use it where the space is {name!r} (a {name!r} "
                f"table, space={name!r}, --space {name}), or give a {space.name!r} architecture"
            ) from e
        raise


def parse_any(s: str, space: str | None = None) -> Architecture:
    """Parse ``s`` in ``space``, or guess the space from the string's shape."""
    if space is not None:
        return parse_in(get_space(space), s)
    errors = []
    for name in list_spaces():
        try:
            return get_space(name).parse(s)
        except ValueError as e:
            errors.append(f"{name}: {e}")
    raise SpaceError("no space parses this string: " + "; ".join(errors))

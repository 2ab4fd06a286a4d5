"""The ask/tell :class:`Strategy` base class, :class:`Trial`, and the strategy registry."""

from __future__ import annotations

import abc
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from nasrepro.spaces import Architecture, Registry, SearchSpace, get_space
from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies._guard import StrategyGuard
from nasrepro.tables import Evaluation

__all__ = [
    "Strategy",
    "Trial",
    "register_strategy",
    "get_strategy",
    "list_strategies",
    "load_strategy",
]


@dataclass(frozen=True)
class Trial:
    """One request to a benchmark: train ``arch`` up to ``epoch``.

    Attributes:
        arch: The architecture to evaluate.
        epoch: Train up to this epoch (``1..max_epoch``); ``None`` means ``max_epoch``.
        resume: Continue this architecture's latest run (same seed, same weights)
            from the epoch it reached, paying only for the extra epochs. Without an
            earlier run it starts from scratch. Multi-fidelity strategies set it when
            they promote an architecture.
        tag: Free for the strategy, e.g. to route a tell to its bracket. It survives
            pickling, unlike object identity.
    """

    arch: Architecture
    epoch: int | None = None
    resume: bool = False
    tag: int | None = None


class Strategy(abc.ABC):
    """Base class of search strategies, driven by ask and tell.

    A runner calls, in this order:

    1. :meth:`on_start` once;
    2. :meth:`ask` whenever a worker is free, and :meth:`tell` once for each asked
       trial as its evaluation finishes. With several workers, up to that many trials
       are pending at once and tells come in completion order, not ask order;
    3. :meth:`on_finish` once when the budget is spent; trials still pending then are
       never told.

    :meth:`ask` may return ``None`` to wait for pending results (synchronous
    multi-fidelity strategies do), but never while no trial is pending. Strategies
    see only :attr:`~nasrepro.tables.Evaluation.valid_acc`, ``epoch`` and ``cost_s``
    of an evaluation: the ``test_acc`` they are told is NaN.

    Subclasses take the space, the full training length and a seed, plus their own
    keyword hyperparameters with the defaults of their paper, and draw every random
    number from :attr:`rng`. A strategy must pickle: runs are shipped to processes.

    Args:
        space: The search space, or its registered name (``"cell"``).
        max_epoch: Full training length of the benchmark (the highest fidelity).
        seed: Seeds :attr:`rng`.
    """

    #: Registry name, set by :func:`register_strategy`.
    name: ClassVar[str] = ""
    #: Whether the strategy needs evaluations below ``max_epoch`` (learning curves);
    #: leaderboards list it "n/a" on a benchmark without them.
    multi_fidelity: ClassVar[bool] = False

    def __init__(self, space: SearchSpace[Any] | str, *, max_epoch: int, seed: int | None = None):
        if max_epoch < 1:
            raise ConfigError(f"{max_epoch=} must be at least 1")
        if isinstance(space, str):  # a registered name, as the command line takes it
            space = get_space(space)
        elif not hasattr(space, "sample"):
            raise ConfigError(
                f"space must be a SearchSpace or a registered space name, got "
                f"{type(space).__name__}; e.g. get_space('cell') or 'cell'"
            )
        self.space = space
        self.max_epoch = max_epoch
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    #: The strategy models the space's categorical decisions (:meth:`SearchSpace.decisions`),
    #: so it supports only spaces that define them.
    needs_decisions: ClassVar[bool] = False

    @classmethod
    def supports(cls, space: SearchSpace[Any]) -> bool:
        """Whether this strategy can search ``space`` (default: any space, or any with a
        :meth:`~nasrepro.spaces.SearchSpace.decisions` view for ``needs_decisions``)."""
        return not cls.needs_decisions or space.decisions() is not None

    def on_start(self) -> None:  # noqa: B027 - an optional hook
        """Called once before the first :meth:`ask`."""

    @abc.abstractmethod
    def ask(self) -> Trial | None:
        """The next trial to run, or ``None`` to wait for a pending one to finish."""

    @abc.abstractmethod
    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        """Report the evaluation of a trial that :meth:`ask` returned."""

    def on_finish(self) -> None:  # noqa: B027 - an optional hook
        """Called once when the budget is spent."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space.name!r}, seed={self.seed})"


S = TypeVar("S", bound=type[Strategy])
#: The built-in strategies, imported on first use.
_REGISTRY: Registry[type[Strategy]] = Registry("strategy")
for _name, _ref in {
    "bananas": "_bananas:Bananas",
    "bohb": "_hyperband:BOHB",
    "gp-bo": "_gp:GPBayesOpt",
    "hyperband": "_hyperband:Hyperband",
    "local-search": "_local_search:LocalSearch",
    "random-search": "_random:RandomSearch",
    "regularized-evolution": "_evolution:RegularizedEvolution",
    "reinforce": "_reinforce:Reinforce",
    "successive-halving": "_hyperband:SuccessiveHalving",
}.items():
    _REGISTRY.add(_name, f"nasrepro.strategies.{_ref}")


def register_strategy(name: str) -> Callable[[S], S]:
    """Class decorator registering a strategy under ``name``; refuses duplicates.

    Example:
        >>> @register_strategy("my-search")  # doctest: +SKIP
        ... class MySearch(Strategy): ...
    """

    def deco(cls: S) -> S:
        if _REGISTRY.taken(name, cls):
            raise ConfigError(
                f"a strategy named {name!r} is already registered; choose another name"
            )
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"{cls!r} is not a Strategy subclass")
        cls.name = name
        _REGISTRY.add(name, cls)
        return cls

    return deco


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``.

    Raises:
        ValueError: Unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY.get(name)
    except KeyError:
        raise ConfigError(
            f"unknown strategy {name!r}; choose one of {list_strategies()} or pass 'module:Class'"
        ) from None


def list_strategies() -> list[str]:
    """Names of the registered strategies, sorted."""
    return _REGISTRY.names()


def load_strategy(spec: str, *, timeout_s: float | None = None) -> type[Strategy]:
    """A strategy class from a registry name, ``"module:Class"`` or ``"path/file.py:Class"``.

    Args:
        spec: The name or spec.
        timeout_s: Seconds the import of a user's module may take (``None``: no limit).

    Raises:
        ValueError: The module or class cannot be found, or is not a
            :class:`Strategy` subclass.
        StrategyError: The user's module raised, or has a syntax error, while it was
            imported; the message carries its traceback.
    """
    if not isinstance(spec, str):
        what = spec.__qualname__ if isinstance(spec, type) else type(spec).__name__
        raise ConfigError(
            f"a strategy is given by name, as 'path/to/file.py:ClassName' or "
            f"'module:ClassName', not as the object {what}: runs in other processes, and "
            "the run files that let a leaderboard resume, find it by that string"
        )
    if ":" not in spec:
        if spec.endswith(".py") and Path(spec).is_file():  # the class was left out
            guard = StrategyGuard(spec, seed=None, timeout_s=timeout_s)
            module = guard.call("the import of its module", _module_from_file, Path(spec))
            names = _strategy_classes(module) or ["ClassName"]
            raise ConfigError(
                f"strategy {spec!r} names a file, not a class in it: pass "
                + " or ".join(repr(f"{spec}:{c}") for c in names)
            )
        return get_strategy(spec)
    module_name, _, cls_name = spec.rpartition(":")
    if not module_name.strip() or not cls_name.strip():
        raise ConfigError(
            f"strategy {spec!r}: the part {'before' if not module_name.strip() else 'after'} "
            "':' is empty; give 'path/to/file.py:ClassName' or 'module:ClassName'"
        )
    if module_name == "__main__":
        raise ConfigError(
            f"{spec!r}: a class defined in a script or notebook (__main__) cannot be "
            "imported by the processes that run it; move it into a file and pass "
            f"'that_file.py:{cls_name}'"
        )
    guard = StrategyGuard(spec, seed=None, timeout_s=timeout_s)
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name)
        if not path.is_file():
            raise ConfigError(f"strategy file {str(path)!r} does not exist")
        module = guard.call("the import of its module", _module_from_file, path)
    else:
        try:
            found = importlib.util.find_spec(module_name)
        except ImportError as e:  # a parent package is missing
            found, why = None, str(e)
        else:
            why = f"no module named {module_name!r}"
        if found is None:
            here = Path(*module_name.split(".")).with_suffix(".py")
            fix = (
                f"the file {here} is here, but the current directory is not on Python's path: "
                f"pass {here}:{cls_name}, or run with PYTHONPATH=."
                if here.is_file()
                else "put it on PYTHONPATH or pass a file path such as my_strategy.py:MyStrategy"
            )
            raise ConfigError(f"cannot import {module_name!r} for strategy {spec!r} ({why}); {fix}")
        module = guard.call("the import of its module", importlib.import_module, module_name)
    cls = getattr(module, cls_name, None)
    if cls is None:
        defined = _strategy_classes(module)
        have = (
            f"; its Strategy subclasses: {', '.join(defined)}"
            if defined
            else "; it defines no Strategy subclass"
        )
        raise ConfigError(f"module {module_name!r} has no attribute {cls_name!r}{have}")
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"{spec!r} is not a nasrepro.strategies.Strategy subclass")
    return cls


def _strategy_classes(module: Any) -> list[str]:
    """Names of the :class:`Strategy` subclasses a module defines, sorted."""
    return sorted(
        n
        for n, v in vars(module).items()
        if isinstance(v, type) and issubclass(v, Strategy) and v.__module__ == module.__name__
    )


def user_module_name(path: str | Path) -> str:
    """The module name a strategy file is imported under: its stem and a digest of its
    resolved path, so two files of the same name (``v1/mine.py``, ``v2/mine.py``) are
    two modules."""
    resolved = Path(path).resolve()
    tag = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:10]
    return f"_nasrepro_user_{re.sub(r'[^0-9A-Za-z_]', '_', resolved.stem)}_{tag}"


def _module_from_file(path: Path) -> Any:
    """Import the file ``path``, or return it from an earlier import of the same content.

    An edited file is imported again (a long-lived process, such as a notebook, runs
    the new code), and the module is registered in :data:`sys.modules` so that pickle
    finds its classes in worker processes.
    """
    name = user_module_name(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cached = sys.modules.get(name)
    if cached is not None and getattr(cached, "__nasrepro_sha256__", None) == digest:
        return cached
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    module.__nasrepro_sha256__ = digest  # type: ignore[attr-defined]
    sys.modules[name] = module  # pickle finds classes of the module by this name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]  # a failed import must not be found half-done next time
        raise
    return module

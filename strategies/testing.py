"""Contract tests inherited by every registered strategy (needs pytest).

Use from a test module that defines a ``benchmark`` fixture (a
:class:`~nasrepro.tables.Benchmark` whose space every strategy supports)::

    from nasrepro.strategies.testing import *  # noqa: F401,F403

The tests are parametrised over :func:`~nasrepro.strategies.list_strategies`, so a
newly registered strategy is enrolled by registering it.
"""

from __future__ import annotations

import pickle

import pytest

from nasrepro.strategies._base import Strategy, get_strategy, list_strategies
from nasrepro.strategies._checks import check_strategy, drive
from nasrepro.tables import Benchmark

__all__ = [
    "test_strategy_contract",
    "test_strategy_stays_in_space",
    "test_strategy_pickles_fresh",
    "test_strategy_seeds_differ",
]

_parametrize = pytest.mark.parametrize("strategy_name", list_strategies())


def _make(name: str, benchmark: Benchmark, seed: int = 0) -> Strategy:
    cls = get_strategy(name)
    if not cls.supports(benchmark.space):
        pytest.skip(f"{name} does not support the {benchmark.space.name!r} space")
    return cls(benchmark.space, max_epoch=benchmark.max_epoch, seed=seed)


@_parametrize
def test_strategy_contract(strategy_name: str, benchmark: Benchmark) -> None:
    """Lifecycle with 3 workers and shuffled tells, determinism, pickling mid-run."""
    _make(strategy_name, benchmark)
    check_strategy(get_strategy(strategy_name), benchmark, n_tells=40, workers=3, seed=0)


@_parametrize
def test_strategy_stays_in_space(strategy_name: str, benchmark: Benchmark) -> None:
    """Every asked architecture is in the benchmark (queries succeed), one worker."""
    log = drive(_make(strategy_name, benchmark, seed=1), benchmark, 30, workers=1, seed=1)
    assert len(log) >= 30
    for arch, epoch, _ in log:
        assert benchmark.space.parse(arch).to_string() == arch
        assert epoch is None or 1 <= epoch <= benchmark.max_epoch


@_parametrize
def test_strategy_pickles_fresh(strategy_name: str, benchmark: Benchmark) -> None:
    """A strategy pickles before its first ask, and the copy asks the same trial."""
    s = _make(strategy_name, benchmark)
    clone = pickle.loads(pickle.dumps(s))
    assert clone.ask() == s.ask()


@_parametrize
def test_strategy_seeds_differ(strategy_name: str, benchmark: Benchmark) -> None:
    """Different seeds give different searches (the seed is really used)."""
    a = drive(_make(strategy_name, benchmark, seed=0), benchmark, 12, seed=0)
    b = drive(_make(strategy_name, benchmark, seed=1), benchmark, 12, seed=0)
    assert a != b

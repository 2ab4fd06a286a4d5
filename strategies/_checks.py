"""The strategy contract, as plain functions (the pytest suite and ``nasrepro validate`` use them).

A strategy must: follow the ask/tell lifecycle with several workers and tells out
of order; ask only for architectures of the space at epochs in ``1..max_epoch``;
return ``None`` from ``ask`` only while trials are pending; give the same trials for
the same seed; and pickle, mid-run, into a copy that continues identically.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np

from nasrepro.spaces import Architecture
from nasrepro.spaces._errors import NasreproError
from nasrepro.strategies._base import Strategy, Trial
from nasrepro.strategies._guard import StrategyGuard, _clip
from nasrepro.tables import Benchmark, Evaluation

__all__ = ["drive", "check_strategy", "check_trial", "StrategyContractError"]

TrialKey = tuple[str, int | None, bool]


class StrategyContractError(NasreproError, AssertionError):
    """A strategy broke the contract; the message says which rule."""


class _Driver:
    """A minimal runner: up to ``workers`` pending trials, told in a random order."""

    def __init__(
        self, benchmark: Benchmark, workers: int, seed: int, guard: StrategyGuard | None = None
    ) -> None:
        self.guard = guard or StrategyGuard("strategy", seed)
        self.benchmark = benchmark
        self.workers = workers
        self.rng = np.random.default_rng(seed)
        self.pending: list[tuple[Trial, Evaluation]] = []
        self.log: list[TrialKey] = []

    def step(self, strategy: Strategy) -> None:
        """Fill the free workers, then tell one pending trial's result."""
        space = self.benchmark.space
        while len(self.pending) < self.workers:
            trial = self.guard.ask(strategy)
            if trial is None:
                if not self.pending:
                    raise StrategyContractError(
                        f"{type(strategy).__name__}.ask() returned None with no trial pending"
                    )
                break
            check_trial(
                trial,
                space,
                self.benchmark.max_epoch,
                has_curves=getattr(self.benchmark, "has_curves", True),
            )
            ev = self.benchmark.query(trial.arch, trial.epoch, rng=self.rng)
            self.pending.append((trial, ev))
            self.log.append((trial.arch.to_string(), trial.epoch, trial.resume))
        i = int(self.rng.integers(len(self.pending)))
        trial, ev = self.pending.pop(i)
        self.guard.tell(strategy, trial, ev)


def check_trial(
    trial: Any, space: Any, max_epoch: int, *, round_trip: bool = True, has_curves: bool = True
) -> None:
    """What ``ask()`` returned is a :class:`Trial` of ``space`` at an epoch in ``1..max_epoch``
    (only ``max_epoch`` where the benchmark has no learning curves).

    Args:
        trial: The value ``ask()`` returned (not ``None``).
        space: The benchmark's search space.
        max_epoch: The benchmark's last epoch.
        round_trip: Also check that the architecture survives its string form (the
            contract check does; a runner skips it, as it costs a parse per ask).
        has_curves: Whether the benchmark answers epochs below ``max_epoch``.

    Raises:
        StrategyContractError: Which rule the value breaks.
    """
    if not isinstance(trial, Trial):
        raise StrategyContractError(
            f"ask() returned {_clip(repr(trial), 200)}, not a Trial or None"
        )
    arch = trial.arch
    if not isinstance(arch, Architecture) or not isinstance(arch, space.arch_type):
        raise StrategyContractError(
            f"ask() returned a Trial of {type(arch).__name__}, not of a {space.arch_type.__name__} "
            f"of the {space.name!r} space (build trials with space.sample(), space.parse(...) "
            "or space.neighbors())"
        )
    if round_trip and space.parse(arch.to_string()) != arch:
        raise StrategyContractError(f"{arch} does not round-trip through the space's parser")
    epoch = trial.epoch
    if epoch is None:
        return
    if isinstance(epoch, bool) or not isinstance(epoch, int):
        raise StrategyContractError(
            f"ask() returned a Trial whose epoch {epoch!r} is a {type(epoch).__name__}, not "
            "an int (None: the last)"
        )
    if not 1 <= epoch <= max_epoch:
        raise StrategyContractError(
            f"ask() returned a Trial at epoch {epoch!r}, outside 1..{max_epoch} (None: the last)"
        )
    if not has_curves and epoch != max_epoch:
        raise StrategyContractError(
            f"ask() returned a Trial at epoch {epoch}, but the benchmark has results at its "
            f"final epoch {max_epoch} only (no learning curves); ask for epoch None"
        )


def drive(
    strategy: Strategy,
    benchmark: Benchmark,
    n_tells: int,
    *,
    workers: int = 1,
    seed: int = 0,
    guard: StrategyGuard | None = None,
) -> list[TrialKey]:
    """Run ``strategy`` for ``n_tells`` results through :meth:`Strategy.on_finish`.

    Args:
        guard: Runs the strategy's calls (default: no time limit); its errors are
            :class:`~nasrepro.strategies.StrategyError`.

    Returns:
        Every asked trial as ``(arch string, epoch, resume)``, in ask order.
    """
    driver = _Driver(benchmark, workers, seed, guard)
    driver.guard.call("on_start()", strategy.on_start)
    for _ in range(n_tells):
        driver.step(strategy)
    driver.guard.call("on_finish()", strategy.on_finish)
    return driver.log


def check_strategy(
    cls: type[Strategy],
    benchmark: Benchmark,
    *,
    n_tells: int = 40,
    workers: int = 3,
    seed: int = 0,
    label: str | None = None,
    timeout_s: float | None = None,
    **kwargs: Any,
) -> list[TrialKey]:
    """Check the contract for ``cls`` on ``benchmark`` within this process; returns the
    trials asked (``(arch string, epoch, resume)`` in ask order) of the first drive.

    Two drives with one seed must ask the same trials, and a pickled copy must go on as
    the original. That the same seed asks the same in *another* process (a set of
    strings iterated in hash order does not) is checked by ``nasrepro validate`` and
    ``nasrepro leaderboard`` (:func:`nasrepro.bench.sim._contract.check_contract`).

    Args:
        cls: The strategy class.
        benchmark: Answers the trials.
        n_tells, workers, seed: How long and how the check drives the strategy.
        label: Names the strategy in errors (default: the class name).
        timeout_s: Seconds one strategy call may take (``None``: no limit).
        **kwargs: The strategy's hyperparameters.

    Raises:
        StrategyContractError: A rule is broken; the message names it.
        StrategyError: The strategy's own code raised or hung.
    """
    name = label or cls.__qualname__

    def guard() -> StrategyGuard:
        return StrategyGuard(name, seed, timeout_s, context="the contract check")

    def make(g: StrategyGuard) -> Strategy:
        return g.construct(cls, benchmark.space, max_epoch=benchmark.max_epoch, seed=seed, **kwargs)

    g = guard()
    first = drive(make(g), benchmark, n_tells, workers=workers, seed=seed, guard=g)
    if len(first) < n_tells:
        raise StrategyContractError(f"only {len(first)} trials asked for {n_tells} tells")
    g = guard()
    again = drive(make(g), benchmark, n_tells, workers=workers, seed=seed, guard=g)
    if again != first:
        k = next(i for i, (a, b) in enumerate(zip(first, again, strict=False)) if a != b)
        raise StrategyContractError(
            f"not deterministic for seed {seed}: trial {k} was {first[k]} then {again[k]}; "
            "draw every random number from self.rng (not the random module or numpy's "
            "global state), and keep no state outside the instance"
        )
    g = guard()
    _check_pickle(make(g), benchmark, n_tells, workers, seed, g)
    return first


def _check_pickle(
    strategy: Strategy,
    benchmark: Benchmark,
    n_tells: int,
    workers: int,
    seed: int,
    guard: StrategyGuard,
) -> None:
    driver = _Driver(benchmark, workers, seed, guard)
    guard.call("on_start()", strategy.on_start)
    half = n_tells // 2
    for _ in range(half):
        driver.step(strategy)
    try:
        clone = pickle.loads(pickle.dumps(strategy))
    except Exception as e:  # any pickling failure breaks the contract
        raise StrategyContractError(f"{type(strategy).__name__} does not pickle: {e}") from e
    # the same driver state, sharing the benchmark
    twin = _Driver(benchmark, workers, seed, StrategyGuard(guard.label, seed, guard.timeout_s))
    twin.rng, twin.pending, twin.log = copy.deepcopy(driver.rng), list(driver.pending), []
    driver.log = []
    for _ in range(n_tells - half):
        driver.step(strategy)
        twin.step(clone)
    if driver.log != twin.log:
        raise StrategyContractError("a pickled copy continues differently from the original")

"""Run a strategy against a benchmark on a simulated clock with asynchronous workers.

The clock advances by each evaluation's training cost as the benchmark records it,
never by wall time, so a run of hours of simulated training takes seconds. ``W``
simulated workers each run one trial at a time: whenever one is free the strategy is
asked for a trial, and each result is told when its worker's clock reaches its
finishing time. A trial that continues an earlier run of the same architecture
(``Trial.resume``) reuses that run's seed and pays only for the extra epochs.

Which run a resumed trial continues: the latest *finished* run of the architecture
(its isomorphism class; on a per-cell benchmark, the cell itself), by finishing time.
A run still in flight has no checkpoint to continue from yet, so with several workers
a promotion never continues it. A resume to an epoch that run already reached reads
its log and costs nothing; without a finished run the trial starts from scratch. A
repeated query without ``resume`` is a new training: it draws a seed and pays in full.

The incumbent is the architecture with the best validation accuracy told so far, at
any epoch: a multi-fidelity strategy's partially trained architecture can be the
incumbent, and is scored (as every incumbent) on its class's mean *final* test
accuracy. This is the anytime incumbent of Syne Tune's benchmarking (the best metric
reported so far, at any resource); HpBandSter's ``get_incumbent_id`` instead takes only
results at the largest budget. Final regrets are the same under both rules whenever
the run ends with a fully trained result better than every partial one.

Example:
    >>> from nasrepro.strategies import RandomSearch
    >>> from nasrepro.tables import TabularBenchmark, Table
    >>> bench = TabularBenchmark(Table.open("cell.h5"))  # doctest: +SKIP
    >>> s = RandomSearch(bench.space, max_epoch=bench.max_epoch, seed=0)  # doctest: +SKIP
    >>> r = run(s, bench, Budget.parse("50q"), workers=4, seed=0)  # doctest: +SKIP
    >>> r.n_evaluations, r.final_regret  # doctest: +SKIP
    (50, 0.85)
"""

from __future__ import annotations

import heapq
import logging
import math
import numbers
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies import (
    Strategy,
    StrategyContractError,
    StrategyGuard,
    Trial,
    check_trial,
)
from nasrepro.tables import Benchmark, Evaluation

__all__ = ["Budget", "RunResult", "parse_budget", "run", "regret_on_grid"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """How long a run lasts: simulated seconds of training, or a number of evaluations.

    Attributes:
        kind: ``"time"`` (simulated seconds; results finishing later are dropped) or
            ``"queries"`` (evaluations started; every one finishes).
        value: Seconds or count.
    """

    kind: Literal["time", "queries"]
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("time", "queries"):
            raise ConfigError(f"budget kind {self.kind!r}; expected 'time' or 'queries'")
        if isinstance(self.value, bool) or not isinstance(self.value, numbers.Real):
            raise ConfigError(
                f"a budget's value must be a number, got {type(self.value).__name__} "
                f"{self.value!r}; or write it as text: Budget.parse('200q')"
            )
        if not (self.value > 0 and math.isfinite(self.value)):
            unit = "simulated seconds" if self.kind == "time" else "evaluations"
            raise ConfigError(
                f"a budget must be a positive, finite number of {unit}; got {self.value:g}"
            )
        if self.kind == "queries" and self.value != int(self.value):
            raise ConfigError(
                f"a query budget counts evaluations, a whole number; got {self.value:g}"
            )

    @classmethod
    def parse(cls, text: str | float, typical_cost_s: float | None = None) -> Budget:
        """Parse ``"3600"``/``"3600s"`` (seconds), ``"200q"`` (evaluations), ``"100x"``.

        ``"100x"`` is 100 times ``typical_cost_s``, the mean cost of one full training
        on the benchmark: about what 100 full evaluations cost on one worker. A bare
        number is seconds, as ``"3600"`` is.

        Raises:
            ValueError: Another format, a value that is not positive, or ``"x"``
                without ``typical_cost_s``.
        """
        if isinstance(text, numbers.Real) and not isinstance(text, bool):
            text = repr(float(text))
        if isinstance(text, Budget):
            return text
        if not isinstance(text, str):
            raise ConfigError(
                f"budget {text!r} ({type(text).__name__}): expected text such as '200q', "
                "'100x' or '3600s', or a Budget"
            )
        m = re.fullmatch(r"\s*([-+]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([sqx]?)\s*", text, re.I)
        if m is None:
            raise ConfigError(
                f"budget {text!r}: expected seconds ('3600' or '3600s'), evaluations "
                "('200q') or multiples of a mean full training ('100x')"
            )
        value, unit = float(m.group(1)), m.group(2).lower()
        if unit == "q":
            return cls("queries", value)
        if unit == "x":
            if typical_cost_s is None:
                raise ConfigError(
                    f"budget {text!r} needs the benchmark's mean training cost: use "
                    f"parse_budget({text!r}, benchmark), or Budget.parse({text!r}, "
                    "typical_cost_s=benchmark.typical_cost_s)"
                )
            return cls("time", value * typical_cost_s)
        return cls("time", value)

    def __str__(self) -> str:
        return f"{self.value:g}s" if self.kind == "time" else f"{int(self.value)}q"


def _as_benchmark(benchmark: Any) -> Benchmark:
    """A benchmark for what a user may pass: a benchmark, a
    :class:`~nasrepro.tables.Table`, or a benchmark's or table's name or file
    (:func:`~nasrepro.bench.sim.open_benchmark`)."""
    from nasrepro.tables import Table, TabularBenchmark

    if isinstance(benchmark, Table):
        return TabularBenchmark(benchmark)
    if isinstance(benchmark, str | os.PathLike):
        from nasrepro.bench.sim._leaderboard_run import open_benchmark  # it imports this

        return open_benchmark(benchmark)  # type: ignore[arg-type]
    if all(hasattr(benchmark, a) for a in ("space", "query", "max_epoch", "optimum")):
        return benchmark  # type: ignore[no-any-return]
    raise ConfigError(
        f"benchmark {benchmark!r} ({type(benchmark).__name__}) is not a benchmark (an "
        "object with space, query, max_epoch and optimum), a Table, or a benchmark's or "
        "table's name"
    )


def parse_budget(text: str | float | Budget, bench: Benchmark) -> Budget:
    """:meth:`Budget.parse` for ``bench``, refusing seconds where it has no times.

    Raises:
        ValueError: A seconds budget (``"3600s"``) on a benchmark whose cost model is
            one unit per full training; ``"100q"`` or ``"100x"`` are the fix.
    """
    if isinstance(text, Budget):
        return text
    budget = Budget.parse(text, bench.typical_cost_s)
    text = str(text)
    per_training = getattr(bench, "cost_model", "recorded") == "per-training"
    if per_training and budget.kind == "time" and not text.strip().lower().endswith("x"):
        raise ConfigError(
            f"budget {text!r} is in simulated seconds, but {bench.name} records no training "
            "times (its cost model is one unit per full training); give a query budget "
            "such as '100q', or '100x' (100 full trainings)"
        )
    return budget


@dataclass
class RunResult:
    """One run's trace. Arrays have one entry per finished evaluation, shape ``(n,)``.

    Attributes:
        strategy, seed, workers, budget: What ran.
        time: Simulated time at which each evaluation finished (sorted).
        valid_acc, epoch: What the strategy was told.
        cost: Seconds charged for each (only the extra epochs for a continued run).
        regret: Test regret of the incumbent after each evaluation: the optimum minus
            the incumbent's mean final test accuracy (percent points).
        incumbents: The incumbent after each evaluation (architecture strings).
        archs: The architecture of each evaluation as it is scored: the canonical
            string of what the strategy asked for (its class representative), or on a
            per-cell benchmark (NAS-Bench-201's tables) the cell itself.
        strategy_s: Wall seconds spent inside ``ask`` and ``tell``.
        wall_s: Wall seconds of the whole run.
        train_seed: The benchmark's training seed behind each evaluation (-1 where
            it has none: a seed mean); runs stored before 2026-12-07 lack it (empty).
        resumed: Whether each evaluation continued an earlier run (same length as
            ``train_seed``).
    """

    strategy: str
    seed: int
    workers: int
    budget: Budget
    time: np.ndarray
    valid_acc: np.ndarray
    epoch: np.ndarray
    cost: np.ndarray
    regret: np.ndarray
    incumbents: list[str] = field(default_factory=list)
    archs: list[str] = field(default_factory=list)
    strategy_s: float = 0.0
    wall_s: float = 0.0
    train_seed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    resumed: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n_evaluations(self) -> int:
        return len(self.time)

    @property
    def final_regret(self) -> float:
        """Regret of the last incumbent (NaN when nothing finished)."""
        return float(self.regret[-1]) if len(self.regret) else math.nan

    @property
    def final_incumbent(self) -> str | None:
        return self.incumbents[-1] if self.incumbents else None

    @property
    def simulated_s(self) -> float:
        """Training seconds charged for the finished evaluations."""
        return float(self.cost.sum())


def regret_on_grid(result: RunResult, grid: np.ndarray, axis: str = "time") -> np.ndarray:
    """The anytime regret at each point of ``grid`` ``(g,)``; NaN before the first result.

    Args:
        axis: ``"time"`` (grid in simulated seconds) or ``"queries"`` (finished
            evaluations).
    """
    x = result.time if axis == "time" else np.arange(1, result.n_evaluations + 1)
    idx = np.searchsorted(x, grid, side="right") - 1  # last result at or before each point
    out = np.full(len(grid), np.nan)
    ok = idx >= 0
    out[ok] = result.regret[idx[ok]]
    return out


@dataclass
class _RunState:
    """A finished run of one architecture: its seed and how far it trained."""

    seed: int | None
    epoch: int
    cost_s: float


@dataclass
class _Pending:
    """An evaluation in flight: its trial, result, charge, and the run it leaves behind
    when it finishes (``None`` for a free read of a run's log)."""

    trial: Trial
    ev: Evaluation
    charge: float
    key: str
    state: _RunState | None
    resumed: bool


def run(
    strategy: Strategy,
    benchmark: Benchmark | str,
    budget: Budget | str,
    *,
    workers: int = 1,
    seed: int = 0,
    name: str | None = None,
    guard: StrategyGuard | None = None,
) -> RunResult:
    """Run ``strategy`` on ``benchmark`` until ``budget`` is spent.

    Args:
        strategy: A fresh strategy (an instance).
        benchmark: Answers the trials: a benchmark, a Table, or a benchmark's or
            table's name or file (as ``open_benchmark`` takes them).
        budget: Simulated seconds or evaluations: a :class:`Budget`, or text as
            :func:`parse_budget` reads it for ``benchmark`` (``"200q"``, ``"100x"``).
        workers: Simulated parallel workers.
        seed: Seeds the benchmark's per-query seed draws.
        name: Strategy name recorded in the result (default: its registry name).
        guard: Runs the strategy's calls and counts its trials (default: one without a
            time limit, naming the strategy ``name``).

    Raises:
        StrategyContractError: ``ask`` returned something other than a :class:`Trial` of
            the benchmark's space at an epoch it has, or waited (``None``) with nothing
            pending; the message names the strategy, the seed and the trial.
        StrategyError: The strategy's code raised, or a call ran past the guard's limit.
    """
    if workers < 1:
        raise ConfigError(f"{workers=} must be at least 1")
    benchmark = _as_benchmark(benchmark)
    if isinstance(strategy, type):
        raise ConfigError(
            f"strategy {strategy.__name__} is a class; pass an instance: "
            f"{strategy.__name__}(benchmark.space, max_epoch=benchmark.max_epoch, seed=...)"
        )
    if not (callable(getattr(strategy, "ask", None)) and callable(getattr(strategy, "tell", None))):
        raise ConfigError(
            f"strategy {strategy!r} ({type(strategy).__name__}) has no ask() and tell(); "
            "pass an instance of a nasrepro.strategies.Strategy subclass"
        )
    budget = parse_budget(budget, benchmark)
    label = name or strategy.name or type(strategy).__name__
    g = guard or StrategyGuard(label, seed)
    wall0 = time.perf_counter()
    rng = np.random.default_rng([seed, 0x5EED])
    space, optimum = benchmark.space, benchmark.optimum
    per_cell = bool(getattr(benchmark, "per_cell", False))
    curves = bool(getattr(benchmark, "has_curves", True))
    runs: dict[str, _RunState] = {}  # key -> its latest finished run
    scores: dict[str, float] = {}  # canonical key -> final mean test acc (regret target)
    heap: list[tuple[float, int, _Pending]] = []
    clock, n_started, seq, strategy_s = 0.0, 0, 0, 0.0
    rows: list[tuple[float, float, int, float, float, int, bool]] = []
    archs: list[str] = []
    incumbents: list[str] = []
    best_valid, best_key = -math.inf, ""

    def can_start() -> bool:
        if budget.kind == "queries":
            return n_started < budget.value
        return clock < budget.value

    t0 = time.perf_counter()
    g.call("on_start()", strategy.on_start)
    strategy_s += time.perf_counter() - t0
    while True:
        while len(heap) < workers and can_start():
            t0 = time.perf_counter()
            trial = g.ask(strategy)
            strategy_s += time.perf_counter() - t0
            if trial is None:
                if not heap:
                    raise StrategyContractError(
                        f"{label} breaks the strategy contract (seed {seed}, after "
                        f"{g.n_asked} trials): ask() returned None with no trial pending"
                    )
                break
            try:
                check_trial(trial, space, benchmark.max_epoch, round_trip=False, has_curves=curves)
            except StrategyContractError as e:
                raise StrategyContractError(
                    f"{label} breaks the strategy contract (seed {seed}, trial {g.n_asked}): {e}"
                ) from None
            # Results belong to the architecture's class (scored on its canonical
            # string), except on a per-cell benchmark (NAS-Bench-201 trained isomorphic
            # cells separately): there a cell's runs and score are its own.
            key = trial.arch.to_string() if per_cell else space.canonical(trial.arch).to_string()
            pending = _evaluate(benchmark, trial, key, runs, rng)
            heapq.heappush(heap, (clock + pending.charge, seq, pending))
            seq += 1
            n_started += 1
        if not heap:
            break
        finish, _, pending = heapq.heappop(heap)
        if budget.kind == "time" and finish > budget.value:
            break  # it, and every later one, ends after the budget
        clock = finish
        trial, ev, key = pending.trial, pending.ev, pending.key
        if pending.state is not None:  # its checkpoint now exists: a resume may continue it
            runs[key] = pending.state
        if ev.valid_acc > best_valid:
            best_valid, best_key = ev.valid_acc, key
        if best_key not in scores:
            scores[best_key] = benchmark.final_test_acc(best_key)
        seed_of = -1 if ev.seed is None else int(ev.seed)
        rows.append(
            (
                finish,
                ev.valid_acc,
                ev.epoch,
                pending.charge,
                optimum - scores[best_key],
                seed_of,
                pending.resumed,
            )
        )
        archs.append(key)
        incumbents.append(best_key)
        t0 = time.perf_counter()
        g.tell(strategy, trial, ev)
        strategy_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    g.call("on_finish()", strategy.on_finish)
    strategy_s += time.perf_counter() - t0
    arr = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return RunResult(
        strategy=label,
        seed=seed,
        workers=workers,
        budget=budget,
        time=arr[:, 0],
        valid_acc=arr[:, 1],
        epoch=arr[:, 2].astype(np.int64),
        cost=arr[:, 3],
        regret=arr[:, 4],
        incumbents=incumbents,
        archs=archs,
        strategy_s=strategy_s,
        wall_s=time.perf_counter() - wall0,
        train_seed=arr[:, 5].astype(np.int64),
        resumed=arr[:, 6].astype(bool),
    )


def _evaluate(
    benchmark: Benchmark,
    trial: Trial,
    key: str,
    runs: dict[str, _RunState],
    rng: np.random.Generator,
) -> _Pending:
    """Query the benchmark for ``trial``; the charge and the run it will leave behind."""
    epoch = benchmark.max_epoch if trial.epoch is None else trial.epoch
    prior = runs.get(key) if trial.resume else None
    if prior is None:
        ev = benchmark.query(trial.arch, epoch, rng=rng)
        return _Pending(trial, ev, ev.cost_s, key, _RunState(ev.seed, epoch, ev.cost_s), False)
    ev = benchmark.query(trial.arch, epoch, prior.seed, rng=rng)
    if epoch <= prior.epoch:  # already trained that far: read the log, for free
        return _Pending(trial, ev, 0.0, key, None, True)
    charge = max(ev.cost_s - prior.cost_s, 0.0)
    return _Pending(trial, ev, charge, key, _RunState(prior.seed, epoch, ev.cost_s), True)

"""The :class:`Benchmark` protocol that strategies are run against, and its tabular form.

A benchmark answers "what would training ``arch`` up to epoch ``e`` have given, and
what would it have cost?". :class:`TabularBenchmark` reads the answer from a
:class:`~nasrepro.tables.Table`; a surrogate benchmark predicts it. Strategies see
:attr:`Evaluation.valid_acc` only; the runner scores incumbents with
:meth:`Benchmark.final_test_acc` against :attr:`Benchmark.optimum`.

Example:
    >>> import numpy as np
    >>> bench = TabularBenchmark(Table.open("cell.h5"))  # doctest: +SKIP
    >>> arch = bench.space.sample(np.random.default_rng(0))  # doctest: +SKIP
    >>> ev = bench.query(arch, epoch=1, rng=np.random.default_rng(0))  # doctest: +SKIP
    >>> ev.valid_acc, ev.cost_s  # doctest: +SKIP
    (61.5, 1.9)
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from nasrepro.spaces import Architecture, Registry, SearchSpace
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables._catalog import (
    SHIPPED_TABLES,
    as_table,
    list_tables,
    load_default,
    open_table,
)
from nasrepro.tables._errors import MissingEntryError
from nasrepro.tables._format import representative_mask
from nasrepro.tables._table import Table

if TYPE_CHECKING:
    from nasrepro.tables._protocol import Protocol as TrainingProtocol

__all__ = [
    "Benchmark",
    "Evaluation",
    "TabularBenchmark",
    "COST_MODELS",
    "portable_table_path",
    "register_benchmark",
    "get_benchmark",
    "list_benchmarks",
    "check_covers_space",
]

logger = logging.getLogger(__name__)

SeedMode = Literal["random", "mean"] | int
#: How a benchmark charges an evaluation: the recorded training time in seconds, or one
#: unit per full training (a fraction for fewer epochs), for tables without times.
CostModel = Literal["recorded", "per-training"]
COST_MODELS: tuple[str, ...] = ("recorded", "per-training")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of training one architecture up to one epoch.

    Attributes:
        arch: String of the architecture whose result this is (for a table, the
            representative of the queried architecture's class).
        epoch: The epoch the metrics are read at (1-based).
        seed: Training seed of the run, or ``None`` for a mean over seeds.
        valid_acc: Validation accuracy (percent) at ``epoch``: all a strategy may use.
        test_acc: Test accuracy (percent) at ``epoch``. Strategies are told NaN in its
            place (:class:`~nasrepro.strategies.StrategyGuard`); runners keep it for the
            regret.
        cost_s: Training time of epochs ``1..epoch`` in seconds (the cost of a run
            started from scratch; a runner that continues a run charges the difference).
            Under the ``"per-training"`` cost model (tables without training times)
            it is in full trainings instead: ``epoch / max_epoch``.
    """

    arch: str
    epoch: int
    seed: int | None
    valid_acc: float
    test_acc: float
    cost_s: float


@runtime_checkable
class Benchmark(Protocol):
    """What the runner needs from a benchmark; tabular and surrogate ones implement it.

    Attributes:
        name: Short name, used in leaderboards (e.g. ``"cell-mnist1d-tiny"``).
        space: The search space the architectures come from.
        max_epoch: The full training length; queries take ``epoch`` in ``1..max_epoch``.
        optimum: Best mean final test accuracy (percent): regret is measured against it.
        typical_cost_s: Mean cost of one full training of a uniformly sampled
            architecture; budgets given as multiples of a training use it.
        protocol: The training protocol the benchmark's numbers were trained under
            (a table's, or a surrogate's training data's), or ``None`` if unknown (an
            imported table); the incumbents can be retrained for real under it.
        cost_model: ``"recorded"``: evaluations cost their recorded training seconds;
            ``"per-training"``: one unit per full training (the benchmark has no times).
        has_curves: Whether epochs below ``max_epoch`` can be queried (multi-fidelity
            strategies need it).
    """

    name: str
    space: SearchSpace[Any]
    max_epoch: int
    cost_model: str
    has_curves: bool

    @property
    def optimum(self) -> float: ...

    @property
    def typical_cost_s(self) -> float: ...

    @property
    def protocol(self) -> TrainingProtocol | None: ...

    def provenance(self) -> dict[str, Any]:
        """What identifies the benchmark's numbers beyond its name (JSON-serialisable).

        A table gives its path, protocol id, metrics digest and seed mode; a surrogate
        the identity of its model and its protocol id. Leaderboards record it.
        """
        ...

    def query(
        self,
        arch: Architecture | str,
        epoch: int | None = None,
        seed: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> Evaluation:
        """Train ``arch`` to ``epoch`` (``None``: ``max_epoch``) with ``seed``.

        ``seed=None`` lets the benchmark choose (drawn with ``rng``, or its mean).
        """
        ...

    def final_test_acc(self, arch: Architecture | str) -> float:
        """Mean test accuracy (percent) of ``arch`` after full training: the regret target."""
        ...


class TabularBenchmark:
    """A :class:`Benchmark` that reads a lookup table.

    A query at epoch ``e`` returns the validation and test accuracy recorded at the
    end of epoch ``e`` and costs the recorded training time of epochs ``1..e``.

    Args:
        table: The table, a shipped table's name or a table file's path.
        seed_mode: ``"random"`` draws one of the trained seeds per query, as
            NAS-Bench-101 does; an ``int`` always reads that seed; ``"mean"`` reads the
            mean over seeds (``Evaluation.seed`` is then ``None``).
        name: Benchmark name (default: the table file's stem).
        seed: Seeds the generator used when :meth:`query` gets no ``rng``.
        cost_model: ``"recorded"`` charges each query the table's recorded training
            time (seconds); ``"per-training"`` charges ``epoch / max_epoch`` units, one
            per full training. ``None`` (default): recorded where the table has times,
            else per-training (an imported table without times cannot invent them).

    Raises:
        ValueError: ``seed_mode`` is neither ``"random"``, ``"mean"`` nor a seed of
            the table, or ``cost_model`` is unknown or ``"recorded"`` on a table
            without times.
    """

    def __init__(
        self,
        table: Table | str | os.PathLike[str],
        seed_mode: SeedMode = "random",
        *,
        name: str | None = None,
        seed: int | None = None,
        cost_model: str | None = None,
    ) -> None:
        table = as_table(table)
        if cost_model is None:
            cost_model = "recorded" if table.has_times else "per-training"
        if cost_model not in COST_MODELS:
            raise ConfigError(f"{cost_model=}; expected one of {COST_MODELS}")
        if cost_model == "recorded" and not table.has_times:
            raise ConfigError(
                f"{table.path} records no training times, so the 'recorded' cost model has "
                "nothing to charge; use cost model 'per-training' (one unit per full training)"
            )
        if isinstance(seed_mode, str):
            if seed_mode not in ("random", "mean"):
                raise ConfigError(f"{seed_mode=}; expected 'random', 'mean' or a table seed")
        elif seed_mode not in table.seeds:
            raise ConfigError(f"{seed_mode=} is not a seed of this table; it has {table.seeds}")
        self.table = table
        self.seed_mode = seed_mode
        self.name = name if name is not None else table.path.stem
        self.space: SearchSpace[Any] = table.space
        self.max_epoch: int = table.final_epoch
        self.cost_model: str = cost_model
        #: Every cell holds its own values (an imported per-cell table): a runner scores
        #: an incumbent on its own cell, not on its class representative.
        self.per_cell: bool = table.per_cell
        self.has_curves: bool = table.has_curves
        self._rng = np.random.default_rng(seed)
        self._optimum: float | None = None
        self._typical: float | None = None

    def __repr__(self) -> str:
        return (
            f"TabularBenchmark({self.name!r}, seed_mode={self.seed_mode!r}, "
            f"cost_model={self.cost_model!r})"
        )

    @property
    def optimum(self) -> float:
        """Best mean final test accuracy of the table (percent)."""
        if self._optimum is None:
            self._optimum = self.table.optimum
        return self._optimum

    @property
    def protocol(self) -> TrainingProtocol | None:
        """The table's training protocol; ``None`` for a table imported without one.

        Raises:
            TableError: The protocol JSON does not hash to the table's recorded id.
        """
        return self.table.protocol if self.table.has_protocol else None

    def provenance(self) -> dict[str, Any]:
        """The table (by :func:`portable_table_path`), its protocol id, metrics digest,
        seed mode and cost model; for an imported table also its source and metrics."""
        out: dict[str, Any] = {
            "table": portable_table_path(self.table.path),
            "protocol_id": self.table.protocol_id,
            "metrics_sha256": str(self.table.attrs.get("metrics_sha256", "")),
            "seed_mode": self.seed_mode,
            "cost_model": self.cost_model,
        }
        if self.table.kind == "imported":
            src = self.table.source
            out["source"] = {k: src.get(k, "") for k in ("name", "citation", "input_sha256")}
            out["search_metric"] = self.table.search_metric
            out["report_metric"] = self.table.report_metric
        return out

    @property
    def typical_cost_s(self) -> float:
        """Mean full-training time over all rows (for a bounded space: uniform over it);
        1 under the ``"per-training"`` cost model.

        Raises:
            ConfigError: Under the ``"recorded"`` cost model, a row records a training
                time <= 0 (a table imported before such times were refused): the clock
                of a leaderboard would stand still or run backwards.
        """
        if self.cost_model == "per-training":
            return 1.0
        if self._typical is None:
            r = self.table.query_many(np.arange(self.table.n_rows), missing="nan")
            times = np.asarray(r.train_time_s, dtype=np.float64)
            bad = np.flatnonzero(times <= 0)  # NaN (untrained) compares False
            if bad.size:
                raise ConfigError(
                    f"{self.table.path}: {bad.size:,} of its {times.size:,} rows record a "
                    f"training time <= 0 (e.g. {self.table.archs[int(r.index[bad[0]])]}: "
                    f"{times[bad[0]]:g}s), so the 'recorded' cost model cannot charge them; "
                    "re-import the table from corrected times (`nasrepro "
                    "table import` refuses times <= 0), or use cost model 'per-training'"
                )
            self._typical = float(np.nanmean(times))
        return self._typical

    def query(
        self,
        arch: Architecture | str,
        epoch: int | None = None,
        seed: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> Evaluation:
        """Read ``arch`` at ``epoch`` (default: the final one).

        Args:
            arch: An architecture of the table's space, or its string.
            epoch: In ``1..max_epoch``; ``None`` is ``max_epoch``.
            seed: A seed of the table; ``None`` follows ``seed_mode``.
            rng: Draws the seed in ``"random"`` mode (default: the benchmark's own).

        Raises:
            MissingEntryError: ``arch`` (or ``seed``) is not in the table.
            ValueError: ``epoch`` is out of range or ``arch`` is malformed.
        """
        if seed is None and self.seed_mode != "mean":
            if isinstance(self.seed_mode, int):
                seed = self.seed_mode
            else:
                seed = self._draw_seed(arch, epoch, rng if rng is not None else self._rng)
        r = self.table.query(arch, epoch, seed)
        cost = r.train_time_s if self.cost_model == "recorded" else r.epoch / self.max_epoch
        return Evaluation(r.arch, r.epoch, seed, r.valid_acc, r.test_acc, cost)

    def _draw_seed(
        self, arch: Architecture | str, epoch: int | None, rng: np.random.Generator
    ) -> int:
        seeds = self.table.seeds
        seed = seeds[int(rng.integers(len(seeds)))]
        if len(seeds) == 1:
            return seed
        try:
            self.table.query(arch, epoch, seed)
        except MissingEntryError:  # partial table: draw again among the trained seeds
            mean = self.table.query(arch, epoch)
            ok = [s for s, v in zip(seeds, mean.per_seed_valid_acc, strict=True) if v == v]
            return ok[int(rng.integers(len(ok)))]
        return seed

    def final_test_acc(self, arch: Architecture | str) -> float:
        """Mean test accuracy of ``arch`` at the final epoch over the trained seeds."""
        return self.table.query(arch).test_acc


def portable_table_path(path: str | Path) -> str:
    """``path`` as recorded in results: a shipped table by package-relative name.

    A shipped table's install path is local to one machine, so it is written as
    ``nasrepro.tables/data/FILE``; any other table as given.
    """
    p = Path(path)
    for entry in list_tables():
        if entry.path is not None and p.resolve() == entry.path.resolve():
            return f"nasrepro.tables/data/{p.name}"
    return str(p)


BenchmarkFactory = Callable[..., Benchmark]
#: The benchmarks: the tables' own, registered below, and lazy ``"module:factory"``
#: entries read from installed packages' :data:`ENTRY_POINT_GROUP` entry points (the
#: surrogate benchmarks are declared there, in nasrepro's own ``pyproject.toml``, so this
#: layer names no module above it; until 2026-12-07 it held their module paths).
_REGISTRY: Registry[BenchmarkFactory] = Registry("benchmark")
#: The entry-point group that declares benchmarks: ``name = "module:factory"``.
ENTRY_POINT_GROUP = "nasrepro.benchmarks"
_ENTRY_POINTS_READ = False


def _read_entry_points() -> None:
    """Declare each installed ``nasrepro.benchmarks`` entry point, once, without importing
    it (an entry whose name is taken by a registered benchmark is left out)."""
    global _ENTRY_POINTS_READ
    if _ENTRY_POINTS_READ:
        return
    _ENTRY_POINTS_READ = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            _REGISTRY.add(ep.name, ep.value)


def register_benchmark(name: str) -> Callable[[BenchmarkFactory], BenchmarkFactory]:
    """Decorator registering a zero-argument benchmark factory under ``name``.

    The factory may take keyword arguments (``get_benchmark`` passes them on).
    Duplicate names are refused. A plugin shipped with nasrepro is declared lazily
    instead, as a ``"module:factory"`` entry of the registry, and imported on first
    :func:`get_benchmark`.

    Example:
        >>> @register_benchmark("cell-my-table")  # doctest: +SKIP
        ... def _mine(**kwargs: Any) -> Benchmark:
        ...     return TabularBenchmark(Table.open("my.h5"), name="cell-my-table", **kwargs)
    """

    def deco(factory: BenchmarkFactory) -> BenchmarkFactory:
        if _REGISTRY.taken(name, factory):
            raise ConfigError(
                f"a benchmark named {name!r} is already registered; choose another name"
            )
        _REGISTRY.add(name, factory)
        return factory

    return deco


def get_benchmark(name: str, **kwargs: Any) -> Benchmark:
    """Build the benchmark registered as ``name``.

    Raises:
        ValueError: No benchmark has that name.
        TableError: Its table is not installed (the message names the fix).
    """
    _read_entry_points()
    try:
        factory = _REGISTRY.get(name)
    except KeyError:
        raise ConfigError(
            f"unknown benchmark {name!r}; choose one of {list_benchmarks()} or pass a table"
        ) from None
    return factory(**kwargs)


def list_benchmarks() -> list[str]:
    """Names of the registered benchmarks (loaded or not), sorted."""
    _read_entry_points()
    return _REGISTRY.names()


@register_benchmark("cell-mnist1d-tiny")
def _cell_mnist1d_tiny(**kwargs: Any) -> Benchmark:
    """The shipped default table: the whole cell space under ``mnist1d-tiny``."""
    return TabularBenchmark(load_default(), name="cell-mnist1d-tiny", **kwargs)


def _shipped_benchmark(name: str) -> BenchmarkFactory:
    def factory(**kwargs: Any) -> Benchmark:
        return TabularBenchmark(open_table(name), name=name, **kwargs)

    factory.__doc__ = f"The shipped table {name!r}: {SHIPPED_TABLES[name][1]}."
    return factory


for _name in SHIPPED_TABLES:
    if _name != "cell-mnist1d-tiny":
        register_benchmark(_name)(_shipped_benchmark(_name))


def check_covers_space(
    table: Table, asker: str = "a strategy may ask for", hint_surrogate: bool = False
) -> None:
    """Refuse a table that cannot answer for every architecture of its space, before any
    work that would fail when it asks for a missing one.

    Args:
        asker: Who may ask for any architecture, as the message says it.
        hint_surrogate: Name the shipped surrogate benchmark of an unbounded space.

    Raises:
        ConfigError: The space is unbounded (a table holds a sample of it), the table's
            rows are not the space's architectures (a table of an older version of the
            space: another count, or rows that the space no longer parses or orders so),
            or some cells (per-cell tables) or isomorphism classes have no final result.
    """
    space = table.space
    if not space.bounded:
        shipped = hint_surrogate and space.name in ("chain", "hierarchical")
        raise ConfigError(
            f"{table.path} holds {table.n_rows:,} sampled architectures of the unbounded "
            f"{space.name!r} space, and {asker} any other; run the leaderboard on a surrogate "
            "benchmark instead"
            + (f": --benchmark {space.name}-mnist1d-tiny-surrogate" if shipped else "")
        )
    _check_rows_match_space(table, asker)
    trained = table.trained()
    if not table.per_cell:
        trained = trained[representative_mask(table.canonical)]
    if not trained.all():
        unit = "cells" if table.per_cell else "isomorphism classes"
        fix = (
            "import the complete results file (without --partial)"
            if table.kind == "imported"
            else "finish its sweep (`nasrepro sweep` with the same arguments resumes it) and "
            "rebuild the table; a --sample or --archs sweep covers only its list, so sweep "
            "the whole space into a new --out"
        )
        raise ConfigError(
            f"{table.path} has results for {int(trained.sum()):,} of the {trained.size:,} {unit} "
            f"of the {space.name!r} space, and {asker} any of them; use a table that covers "
            f"the space (`nasrepro table list`), or {fix}"
        )


#: Rows of a bounded space's table that :func:`check_covers_space` parses and places.
_SPOT_CHECKS = 64


def _check_rows_match_space(table: Table, asker: str) -> None:
    """Refuse a bounded space's table whose rows are not the space's architectures in
    enumeration order: a table built from an older version of the space. The count is
    compared in full; the order and the strings on :data:`_SPOT_CHECKS` evenly spaced
    rows (enumerating a large space would cost more than the rest of the check)."""
    space = table.space
    fix = (
        "rebuild it for the current space (sweep the space again into a new --out, then "
        "`nasrepro table build`; for an imported table, import the results file again), or "
        "use the version of the space (or of the plugin that registers it) that the table "
        "was built with"
    )
    size = space.size
    if table.n_rows != size:
        raise ConfigError(
            f"{table.path} has {table.n_rows:,} rows, but the {space.name!r} space now has "
            f"{size:,} architectures, and {asker} any of them: the table was built from "
            f"another version of the space; {fix}"
        )
    archs = table.archs
    for i in np.unique(np.linspace(0, len(archs) - 1, min(len(archs), _SPOT_CHECKS)).astype(int)):
        row = int(i)
        try:
            index = space.index_of(space.parse(archs[row]))
        except ValueError as e:
            raise ConfigError(
                f"{table.path}: row {row} ({archs[row]!r}) is not an architecture of the "
                f"current {space.name!r} space ({e}): the table was built from another "
                f"version of the space; {fix}"
            ) from e
        if index is not None and index != row:
            raise ConfigError(
                f"{table.path}: row {row} holds {archs[row]!r}, which the current "
                f"{space.name!r} space enumerates at position {index}: the table was built "
                f"from another version of the space; {fix}"
            )

"""Do two benchmarks order the strategies alike? Leaderboards on both, then Kendall's tau.

:func:`compare_strategies` runs the same strategies, seeds and **query budget** on two
tabular benchmarks (:func:`~nasrepro.bench.sim.run_leaderboard`), ranks the strategies
on each by mean final test regret (:func:`~nasrepro.bench.sim.summarize`), and gives
Kendall's tau-b between the two mean-regret vectors with a 95% percentile-bootstrap
CI: 2,000 resamples of the seeds (one draw of seed indices, with replacement, applied
to every strategy on both benchmarks; generator seeded with ``seed``). Mean regrets
equal to 4 decimals tie (:func:`~nasrepro.tables._ranking.tie_round`), in the ranks and
in tau.

Only a query budget is accepted (``"100q"``): it gives every run the same number of
evaluations on both benchmarks, whether a table records training times or not (one
without times is charged one unit per full training, the ``"per-training"`` cost
model, automatically). Time budgets (``"3600s"``, ``"100x"``) would give the two
benchmarks different numbers of evaluations.

With ``runs_dir`` every finished run is kept as it finishes, one subdirectory per
benchmark and budget (``DIR/<benchmark>-<budget>/``; a table file's adds its metrics
digest, :mod:`~nasrepro.bench.sim._runstore`):
a killed comparison reruns only what is missing, more seeds or strategies run only
what is new, and comparisons sharing a benchmark share its runs.

Multi-fidelity strategies (``Strategy.multi_fidelity``) stop runs early, so they need
learning curves; when either benchmark has a single epoch they are left out of the
comparison (listed in ``excluded`` with the reason), and so is a strategy that does
not support the space.

Example:
    >>> from nasrepro.bench.sim import BenchmarkSpec
    >>> c = compare_strategies(BenchmarkSpec("cell-mnist1d-tiny"),
    ...                        BenchmarkSpec("nb201-cifar10"), seeds=range(30))  # doctest: +SKIP
    >>> c.kendall_tau, c.tau_ci  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.sim._leaderboard_run import (
    BenchmarkSpec,
    Leaderboard,
    LeaderboardConfig,
    as_spec,
    open_benchmark,
    run_leaderboard,
)
from nasrepro.bench.sim._leaderboard_stats import _N_BOOT, summarize
from nasrepro.bench.sim._runner import Budget
from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies import list_strategies, load_strategy
from nasrepro.tables import SHIPPED_TABLES, TableError
from nasrepro.tables._compare import _jsonable
from nasrepro.tables._ranking import tie_round

__all__ = [
    "compare_strategies",
    "StrategyComparison",
    "StrategyResult",
    "tau_b_columns",
    "query_budget",
]


@dataclass(frozen=True)
class StrategyResult:
    """One strategy on one benchmark.

    Attributes:
        mean: Mean final test regret over seeds (percent points).
        ci_low, ci_high: Its 95% CI (as the leaderboard reports it).
        rank: Its place by ``mean`` on that benchmark (1 = lowest regret; ties share
            the best place).
    """

    mean: float
    ci_low: float
    ci_high: float
    rank: int


@dataclass(frozen=True)
class StrategyComparison:
    """What :func:`compare_strategies` measured.

    Attributes:
        a, b: The benchmarks' names.
        benchmark_a, benchmark_b: Their :func:`~nasrepro.bench.sim.benchmark_info`
            (optimum, cost model, table).
        budget: The query budget (``"100q"``).
        seeds: The run seeds.
        strategies: Those compared, in A's order (best first).
        excluded: Strategy -> why it was left out.
        results_a, results_b: Strategy -> :class:`StrategyResult`.
        kendall_tau: Tau-b between the mean regrets on A and on B (NaN below 2 strategies).
        tau_ci: Its 95% percentile-bootstrap CI over seeds.
        n_boot: Bootstrap resamples.
        wall_s: Wall time of both leaderboards.
        reused: Runs read back from ``runs_dir`` instead of run.
        runs_dirs: Where each benchmark's runs are kept (empty without ``runs_dir``).
        notes: Strategy -> a warning about its runs (one that seems to ignore its seed).
    """

    a: str
    b: str
    benchmark_a: dict[str, Any]
    benchmark_b: dict[str, Any]
    budget: str
    seeds: tuple[int, ...]
    strategies: tuple[str, ...]
    excluded: dict[str, str]
    results_a: dict[str, StrategyResult]
    results_b: dict[str, StrategyResult]
    kendall_tau: float
    tau_ci: tuple[float, float]
    n_boot: int = _N_BOOT
    wall_s: float = field(default=0.0, compare=False)
    reused: int = field(default=0, compare=False)
    runs_dirs: tuple[str, ...] = field(default=(), compare=False)
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        d = asdict(self)
        d["seeds"], d["strategies"] = list(self.seeds), list(self.strategies)
        d["runs_dirs"] = list(self.runs_dirs)
        return _jsonable(d)  # type: ignore[no-any-return]


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if len(x) < 2:
        return math.nan
    with warnings.catch_warnings():  # constant input: NaN
        warnings.simplefilter("ignore")
        return float(kendalltau(tie_round(x), tie_round(y)).statistic)


def tau_b_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of every column pair: ``x``, ``y`` ``(n, m)`` -> ``(m,)``.

    Over the item pairs ``i < j``: ``sum(sx * sy) / sqrt(sum(|sx|) * sum(|sy|))`` with
    ``sx = sign(x_i - x_j)``: concordant minus discordant pairs over the square root of
    the pairs untied in ``x`` times those untied in ``y``, which is tau-b as
    :func:`scipy.stats.kendalltau` computes it. NaN where a column is constant.
    """
    i, j = np.triu_indices(x.shape[0], 1)
    sx, sy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])  # (pairs, m)
    den = np.sqrt(np.abs(sx).sum(axis=0) * np.abs(sy).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (sx * sy).sum(axis=0) / den, np.nan)


def _bootstrap_tau(fa: np.ndarray, fb: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """95% percentile CI of tau between seed-mean regrets; ``fa``, ``fb`` ``(n_strategies, n_seeds)``."""
    n_seeds = fa.shape[1]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_seeds, (n_boot, n_seeds))
    with warnings.catch_warnings():  # a resample of all-NaN seeds: NaN mean
        warnings.simplefilter("ignore")
        ma = np.nanmean(fa[:, idx], axis=2)  # (n_strategies, n_boot)
        mb = np.nanmean(fb[:, idx], axis=2)
    taus = tau_b_columns(tie_round(ma), tie_round(mb))
    if not np.isfinite(taus).any():
        return math.nan, math.nan
    lo, hi = np.nanquantile(taus, [0.025, 0.975])
    return float(lo), float(hi)


def _results(lb: Leaderboard, names: Sequence[str]) -> tuple[dict[str, StrategyResult], np.ndarray]:
    from scipy.stats import rankdata

    s = summarize(lb)["strategies"]
    means = np.array([s[n]["summary"]["mean"] for n in names])
    ranks = rankdata(np.where(np.isnan(means), np.inf, tie_round(means)), method="min")
    out = {
        n: StrategyResult(
            float(means[i]),
            float(s[n]["summary"]["ci_low"]),
            float(s[n]["summary"]["ci_high"]),
            int(ranks[i]),
        )
        for i, n in enumerate(names)
    }
    final = np.array([s[n]["final_regret"] for n in names], dtype=np.float64)
    return out, final


def query_budget(text: str) -> Budget:
    """The query budget ``text`` (``"100q"``).

    Raises:
        ConfigError: ``text`` is no budget, or a time budget (``"3600s"``, ``"100x"``).
    """
    try:
        parsed: Budget | None = Budget.parse(text)
    except ConfigError:
        parsed = None
    if parsed is None or parsed.kind != "queries":
        raise ConfigError(
            f"budget {text!r}: comparing strategies across benchmarks needs a query budget "
            "such as '100q', so that both get the same number of evaluations whether their "
            "tables record training times or not"
        )
    return parsed


def compare_strategies(
    a: BenchmarkSpec,
    b: BenchmarkSpec,
    *,
    strategies: Sequence[str] = (),
    seeds: Iterable[int] = tuple(range(30)),
    budget: str = "100q",
    jobs: int = 1,
    workers: int = 1,
    n_boot: int = _N_BOOT,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    fresh: bool = False,
) -> StrategyComparison:
    """Run the same leaderboard on ``a`` and ``b`` and compare the strategy orders.

    Args:
        a, b: The benchmarks (registered names or table files).
        strategies: Registry names or ``module:Class`` specs; empty: every registered one.
        seeds: Run seeds (the same on both).
        budget: A query budget, ``"<N>q"``.
        jobs: Parallel processes per leaderboard.
        workers: Simulated workers per run.
        n_boot: Bootstrap resamples of the tau CI.
        seed: Seeds the bootstrap.
        progress: ``progress(done, total)`` over the runs of both leaderboards.
        runs_dir: Keep every finished run under it (``<benchmark>-<budget>/`` for
            each benchmark) and reuse the runs found there of the same configuration.
        fresh: Run everything again, overwriting the runs kept in ``runs_dir``.

    Raises:
        ConfigError: ``budget`` is not a query budget, no strategy is left to compare,
            or a runs directory holds runs of another configuration (and not ``fresh``).
        TableError: A benchmark cannot be opened, or the two are of different spaces.
        StrategyError: A strategy's code failed.
    """
    parsed = query_budget(budget)
    seeds = tuple(seeds)
    ba, bb = open_benchmark(a), open_benchmark(b)
    if ba.space.name != bb.space.name:
        raise TableError(
            f"benchmark A ({ba.name}) is of the {ba.space.name!r} space and B ({bb.name}) of "
            f"{bb.space.name!r}; compare benchmarks of the same space"
        )
    names = list(strategies) or list_strategies()
    excluded: dict[str, str] = {}
    flat = [x.name for x in (ba, bb) if not getattr(x, "has_curves", True)]
    if flat:
        for n in list(names):
            if load_strategy(n).multi_fidelity:
                names.remove(n)
                excluded[n] = (
                    f"multi-fidelity; {' and '.join(flat)} "
                    f"{'has' if len(flat) == 1 else 'have'} no learning curves (one epoch)"
                )
    if not names:
        raise ConfigError(f"no strategy left to compare: {excluded}")
    total = 2 * len(names) * len(seeds)
    half = len(names) * len(seeds)
    dirs = _runs_dirs(runs_dir, (a, b), parsed, (ba.provenance(), bb.provenance()))
    lbs = []
    for k, spec in enumerate((a, b)):
        config = LeaderboardConfig(
            benchmark=spec,
            strategies=tuple(names),
            seeds=seeds,
            budget=str(parsed),
            workers=workers,
            jobs=jobs,
        )

        def step(done: int, _total: int, off: int = k * half) -> None:
            if progress is not None:
                progress(off + done, total)

        lbs.append(
            run_leaderboard(
                config,
                progress=step,
                runs_dir=None if dirs is None else dirs[k],
                fresh=fresh,
            )
        )
    lb_a, lb_b = lbs
    for lb in lbs:
        excluded.update(lb.skipped)
    names = [n for n in names if n in lb_a.runs and n in lb_b.runs]
    if not names:
        raise ConfigError(f"no strategy ran on both benchmarks: {excluded}")
    res_a, fa = _results(lb_a, names)
    res_b, fb = _results(lb_b, names)
    order = sorted(names, key=lambda n: (res_a[n].rank, res_b[n].rank, n))
    means_a = np.array([res_a[n].mean for n in names])
    means_b = np.array([res_b[n].mean for n in names])
    return StrategyComparison(
        a=ba.name,
        b=bb.name,
        benchmark_a=lb_a.benchmark,
        benchmark_b=lb_b.benchmark,
        budget=str(parsed),
        seeds=seeds,
        strategies=tuple(order),
        excluded=excluded,
        results_a=res_a,
        results_b=res_b,
        kendall_tau=_tau(means_a, means_b),
        tau_ci=_bootstrap_tau(fa, fb, n_boot, seed),
        n_boot=n_boot,
        wall_s=lb_a.wall_s + lb_b.wall_s,
        reused=lb_a.reused + lb_b.reused,
        runs_dirs=() if dirs is None else tuple(str(d) for d in dirs),
        notes={**lb_b.notes, **lb_a.notes},
    )


def _runs_dirs(
    runs_dir: str | os.PathLike[str] | None,
    specs: tuple[BenchmarkSpec, BenchmarkSpec],
    budget: Budget,
    provenance: tuple[dict[str, Any], dict[str, Any]],
) -> tuple[Path, Path] | None:
    """Each benchmark's runs directory under ``runs_dir``: ``<label>-<budget>``, so that
    comparisons sharing a benchmark and budget share its runs. A table file's label is
    its stem, which other files share, so its folder adds the first 8 hex digits of its
    metrics' sha256 (``t-c640d1b3-100q``): another ``t.h5`` gets its own. Two benchmarks
    of one folder name (copies of one file) get ``-a`` and ``-b``."""
    if runs_dir is None:
        return None
    names = []
    for s, prov in zip(specs, provenance, strict=True):
        spec = as_spec(s)
        digest = str(prov.get("metrics_sha256", ""))[:8]
        tag = f"-{digest}" if spec.table and spec.table not in SHIPPED_TABLES and digest else ""
        names.append(f"{spec.label}{tag}-{budget}")
    if names[0] == names[1]:
        names = [f"{names[0]}-a", f"{names[1]}-b"]
    return Path(runs_dir) / names[0], Path(runs_dir) / names[1]

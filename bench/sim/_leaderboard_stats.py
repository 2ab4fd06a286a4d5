"""Leaderboard statistics: CIs, pairwise tests, the common grid, per-strategy summaries
and ranks (see :mod:`nasrepro.bench.sim._leaderboard_run` for what is computed)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from nasrepro.bench.sim._leaderboard_run import Leaderboard
from nasrepro.bench.sim._runner import Budget, RunResult, regret_on_grid
from nasrepro.tables._ranking import tie_round

__all__ = ["bootstrap_ci", "mean_ci", "holm", "pairwise_tests", "welch_p"]
__all__ += ["make_grid", "summarize", "regret_at", "regrets_at"]

logger = logging.getLogger(__name__)

_GRID_POINTS = 50
_N_BOOT = 2000
#: Significance level of the leaderboard's CIs and pairwise tests.
ALPHA = 0.05


# --------------------------------------------------------------- statistics
def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = _N_BOOT, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap ``1 - alpha`` CI of the mean of ``values`` ``(n,)``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def mean_ci(values: np.ndarray, *, alpha: float = ALPHA) -> tuple[float, float]:
    """Student-t ``1 - alpha`` CI of the mean of ``values`` ``(n,)`` (NaNs dropped);
    NaN for fewer than two values.

    Leaderboards used a percentile bootstrap until 2026-12-07. Taking each strategy's
    100 reference regrets on the default table as the population, its 95% intervals
    covered the mean in 83% of draws of 5 seeds (``--quick``) and 92% of 30, the t
    interval's in 93% and 94%: at a few seeds the bootstrap's is about 40% too narrow.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan, math.nan
    from scipy.stats import t

    half = float(t.ppf(1 - alpha / 2, v.size - 1)) * float(v.std(ddof=1)) / math.sqrt(v.size)
    m = float(v.mean())
    return m - half, m + half


def pairwise_tests(finals: dict[str, np.ndarray], *, alpha: float = ALPHA) -> dict[str, Any]:
    """Which strategies' mean final regrets the seeds can tell apart.

    Welch's t-test for every pair, with Holm's step-down correction over all pairs,
    which holds the chance of any false "differs" at ``alpha``. The test is unpaired,
    though runs of one seed are not independent: the seed drives the benchmark's draws
    (which training seed answers) as well as the strategy, so two strategies that start
    from a uniform initial design ask the same first architectures. Over the default
    table's 100 reference seeds the 36 pairs' final regrets correlate by 0.10 on
    average (24 positive; from -0.22 to 0.80, Hyperband with successive halving).
    Positive correlation makes the unpaired test conservative.

    Returns:
        JSON-ready ``{"test", "correction", "alpha", "pairs": [{"a", "b", "diff",
        "p", "p_holm", "differs"}]}``, ``diff`` = mean regret of ``a`` minus ``b``;
        ``pairs`` is empty with fewer than two strategies of two finite values each.
    """
    clean = {n: v[np.isfinite(v)] for n, v in finals.items()}
    names = [n for n, v in clean.items() if v.size >= 2]
    pairs: list[dict[str, Any]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            va, vb = clean[a], clean[b]
            diff = float(va.mean() - vb.mean())
            pairs.append({"a": a, "b": b, "diff": diff, "p": welch_p(va, vb)})
    for pair, adjusted in zip(pairs, holm([p["p"] for p in pairs]), strict=True):
        pair["p_holm"] = adjusted
        pair["differs"] = adjusted < alpha
    return {"test": "welch-t", "correction": "holm", "alpha": alpha, "pairs": pairs}


def welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of Welch's t-test of the means of ``a`` and ``b`` (two values or more
    each, finite). scipy's warning about nearly equal data is not passed on.

    When neither side has any spread (to 4 decimals, as
    :func:`~nasrepro.tables._ranking.tie_round` rounds) t is undefined; a table without
    seed noise, such as NAS-Bench-201's, gives such samples. The p is then 1 if the two
    values are equal, else the exact permutation test's. The observed split is then the most extreme of the
    ``C(n_a + n_b, n_a)`` equally likely ones, joined by its mirror image when
    ``n_a == n_b``: two seeds each give 1/3, not 0.
    """
    import warnings

    from scipy.stats import ttest_ind

    ra, rb = tie_round(a), tie_round(b)  # 0.13 against 0.1300025 is no spread
    if np.ptp(ra) == 0 and np.ptp(rb) == 0:
        if ra[0] == rb[0]:
            return 1.0
        return (1 + (a.size == b.size)) / math.comb(a.size + b.size, a.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(ttest_ind(a, b, equal_var=False).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (Holm 1979), in their order: the
    ``i``-th smallest times ``m - i``, made non-decreasing, capped at 1."""
    order = sorted(range(len(p_values)), key=lambda k: p_values[k])
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, p_values[k] * (len(p_values) - rank)))
        out[k] = running
    return out


def make_grid(runs: Iterable[RunResult], budget: Budget) -> tuple[np.ndarray, str]:
    """The common grid of the anytime curves, and its axis (``"time"`` or ``"queries"``).

    Time budgets: 50 log-spaced points from the first moment every run has a result
    to the budget. Query budgets: up to 50 log-spaced evaluation counts up to the budget,
    rounded to whole evaluations with repeats dropped, so the early counts weigh less
    in the AUC than a log scale implies (at 100q, 34 points, 29% of them in the first
    decade rather than half).
    """
    if budget.kind == "queries":
        n = int(budget.value)
        grid = np.unique(np.round(_logspace(0.0, math.log10(max(n, 1)), _GRID_POINTS)))
        return grid.astype(np.float64), "queries"
    firsts = [r.time[0] for r in runs if r.n_evaluations]
    t0 = min(max(firsts, default=budget.value), budget.value)
    grid = _logspace(math.log10(t0), math.log10(budget.value), _GRID_POINTS)
    # 10 ** log10(t) can land one ulp below t: the first point then came before the
    # latest first result, and that run's curve began with NaN there.
    grid[0], grid[-1] = t0, budget.value
    return grid, "time"


def _logspace(start: float, stop: float, num: int) -> np.ndarray:
    """``np.logspace(start, stop, num)`` with the powers taken by the C library one at a
    time: numpy's own ``power`` dispatches by CPU, and on an AVX-512 CPU 4 of a quick
    leaderboard's 50 grid points differed in the last bit from an AVX2 CPU's (so did its
    results). The C library's ``pow`` gives an AVX2 numpy's values on both."""
    return np.array([10.0 ** float(x) for x in np.linspace(start, stop, num)])


def summarize(lb: Leaderboard) -> dict[str, Any]:
    """Per-strategy statistics and curves on a common grid (JSON-ready).

    Returns:
        ``{"grid", "axis", "strategies": {name: {...}}, "ranks": {name: [...]},
        "pairwise": {...}}`` (:func:`pairwise_tests`);
        each strategy holds ``final_regret`` (per seed), ``curves`` (seeds x grid),
        ``final_incumbent``, ``n_evaluations`` and a ``summary`` of ``mean``,
        ``ci_low``, ``ci_high`` (:func:`mean_ci`), ``median``, ``auc``, ``rank``, and ``test_mean`` /
        ``test_std``: the final incumbent's mean final test accuracy (the table's
        report metric; ``optimum - regret``), mean and sample standard deviation
        (``ddof=1``) over seeds, as NAS-Bench-201's Table 5 reports it (NaN for one seed).
    """
    all_runs = [r for rs in lb.runs.values() for r in rs]
    grid, axis = make_grid(all_runs, lb.budget)
    names = list(lb.runs)
    curves = {
        n: np.stack([regret_on_grid(r, grid, axis) for r in rs]) for n, rs in lb.runs.items()
    }  # each (n_seeds, g)
    stacked = np.stack([curves[n] for n in names])  # (n_strategies, n_seeds, g)
    ranks = _ranks(stacked)  # (n_strategies, g)
    out: dict[str, Any] = {"grid": grid.tolist(), "axis": axis, "strategies": {}, "ranks": {}}
    for i, n in enumerate(names):
        final = np.array([r.final_regret for r in lb.runs[n]])
        lo, hi = mean_ci(final)
        test = float(lb.benchmark["optimum"]) - final  # (n_seeds,) the incumbents' accuracy
        auc = np.nanmean(curves[n], axis=1)  # per seed, over the log-spaced grid
        out["strategies"][n] = {
            "seeds": [r.seed for r in lb.runs[n]],
            "final_regret": final.tolist(),
            "final_incumbent": [r.final_incumbent for r in lb.runs[n]],
            "n_evaluations": [r.n_evaluations for r in lb.runs[n]],
            "curves": np.round(curves[n], 6).tolist(),
            "summary": {
                "mean": float(np.nanmean(final)),
                "ci_low": lo,
                "ci_high": hi,
                "median": float(np.nanmedian(final)),
                "auc": float(np.nanmean(auc)),
                "rank": float(ranks[i, -1]),
                "evaluations": float(np.mean([r.n_evaluations for r in lb.runs[n]])),
                "test_mean": float(np.nanmean(test)),
                "test_std": float(np.nanstd(test, ddof=1)) if len(test) > 1 else math.nan,
            },
        }
        out["ranks"][n] = ranks[i].tolist()
    finals = {
        n: np.array(s["final_regret"], dtype=np.float64) for n, s in out["strategies"].items()
    }
    out["pairwise"] = pairwise_tests(finals)
    return out


def regret_at(lb: Leaderboard, time_s: float) -> dict[str, tuple[float, float, float]]:
    """Each strategy's standing at simulated time ``time_s`` (read off its anytime curves).

    Returns:
        Per strategy: the mean regret over the seeds, and their incumbents'
        report-metric accuracy (``optimum - regret``), mean and sample standard
        deviation (NaN for one seed); NaN for all three unless every seed has a result by then (a mean
        over the seeds that have one would flatter the strategy).
        The one-shot leaderboard sets the black-box strategies beside each method at
        the method's cost this way.
    """
    optimum = float(lb.benchmark["optimum"])
    out: dict[str, tuple[float, float, float]] = {}
    for name, reg in regrets_at(lb, time_s).items():
        if not reg.size or not np.isfinite(reg).all():
            out[name] = (math.nan, math.nan, math.nan)
            continue
        test = optimum - reg
        std = float(test.std(ddof=1)) if len(test) > 1 else math.nan
        out[name] = (float(reg.mean()), float(test.mean()), std)
    return out


def regrets_at(lb: Leaderboard, time_s: float) -> dict[str, np.ndarray]:
    """Each strategy's regret per seed at simulated time ``time_s``, ``(n_seeds,)``
    (NaN for a seed without a result by then)."""
    t = np.array([float(time_s)])
    return {
        name: np.array([regret_on_grid(r, t)[0] for r in runs], dtype=np.float64)
        for name, runs in lb.runs.items()
    }


def _ranks(stacked: np.ndarray) -> np.ndarray:
    """Mean rank over seeds, ``(n_strategies, g)``, of regrets ``(n_strategies, n_seeds, g)``.

    Lower regret ranks first; a run without a result yet ranks last; ties share the
    mean of their ranks. Regrets equal to 4 decimals tie
    (:func:`~nasrepro.tables._ranking.tie_round`): two incumbents of one accuracy had
    regrets 1.0 and 1.0000025 after the table's float32 seed values were averaged.
    """
    from scipy.stats import rankdata

    filled = np.where(np.isnan(stacked), np.inf, tie_round(stacked))
    return rankdata(filled, axis=0).mean(axis=1)  # type: ignore[no-any-return]

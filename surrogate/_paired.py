"""Paired comparison of two surrogates scored on the same held-out networks.

Two models evaluated on one test set err together: a test network that is hard for one
tends to be hard for the other, so the standard errors of their two taus cannot tell
whether the models differ. :func:`compare_evaluations` resamples the test networks
with replacement, the same draw for both models, and reads the difference of each
metric off every resample: its percentile interval and a two-sided bootstrap p value
(Efron and Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13 and 16; they
advise 1,000 or more resamples for a percentile interval, and :data:`N_BOOT` takes
the 2,000 that measured one model's standard error in docs/surrogate.md).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from nasrepro.surrogate._data import SurrogateError
from nasrepro.surrogate._evaluate import SpaceEvaluation

__all__ = [
    "N_BOOT",
    "PAIRED_METRICS",
    "MetricDifference",
    "PairedComparison",
    "compare_evaluations",
]

#: Default bootstrap resamples (see the module docstring for the source).
N_BOOT = 2000

#: The metrics compared, in print order: the ranking (the yardstick a search reads) and
#: the error of single runs (as :func:`~nasrepro.surrogate.evaluate` defines its MAE).
PAIRED_METRICS: tuple[str, ...] = ("kendall_tau", "spearman", "mae")


@dataclass(frozen=True)
class MetricDifference:
    """One metric of models A and B on the common test networks, and A minus B.

    Attributes:
        a, b: The metric of each model on the common networks (for the MAE, over the
            single runs of those networks, as ``evaluate`` computes it).
        diff: ``a - b``.
        low, high: The percentile interval of the difference at ``level``.
        p: Two-sided bootstrap p value of "no difference": twice the smaller share of
            resamples on either side of 0, with one added to count and total, so it is
            never 0 (the smallest it can be is ``2 / (n_boot + 1)``).
        se_a, se_b: Each model's own bootstrap standard error over the same resamples:
            what an unpaired comparison would use, ``1.96 * hypot(se_a, se_b)`` for a
            95% half-width, which ignores that the two err on the same networks.
    """

    a: float
    b: float
    diff: float
    low: float
    high: float
    p: float
    se_a: float
    se_b: float


@dataclass(frozen=True)
class PairedComparison:
    """:func:`compare_evaluations`' result for one space.

    Attributes:
        space: Space name.
        n_test: Test networks both models were scored on.
        n_only_a, n_only_b: Test networks only one model kept (the other was fitted on
            them or on an isomorph, so ``evaluate`` dropped them); they are left out.
        metrics: :data:`PAIRED_METRICS` to their :class:`MetricDifference`.
        n_boot, seed, level: The bootstrap's resamples, seed and interval level.
    """

    space: str
    n_test: int
    n_only_a: int
    n_only_b: int
    metrics: dict[str, MetricDifference]
    n_boot: int
    seed: int
    level: float

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of all fields."""
        return {
            "space": self.space,
            "n_test": self.n_test,
            "n_only_a": self.n_only_a,
            "n_only_b": self.n_only_b,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "level": self.level,
            "metrics": {k: vars(v).copy() for k, v in self.metrics.items()},
        }


def _kendall(pred: np.ndarray, true: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(pred, true).statistic)


def _spearman(pred: np.ndarray, true: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(pred, true).statistic)


def _metric_values(
    name: str, pred: np.ndarray, true: np.ndarray, abs_sum: np.ndarray, runs: np.ndarray
) -> float:
    if name == "mae":
        return float(abs_sum.sum() / runs.sum())  # over the single runs
    with warnings.catch_warnings():  # a constant resample gives NaN, which the caller drops
        warnings.simplefilter("ignore")
        return _kendall(pred, true) if name == "kendall_tau" else _spearman(pred, true)


def compare_evaluations(
    a: SpaceEvaluation,
    b: SpaceEvaluation,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    level: float = 0.95,
) -> PairedComparison:
    """Compare two evaluations of one space on the test networks both kept.

    Args:
        a, b: :func:`~nasrepro.surrogate.evaluate` results of two surrogates on the
            same test table.
        n_boot: Bootstrap resamples (at least 100).
        seed: Seed of the resampling.
        level: Level of the percentile intervals, in (0, 1).

    Raises:
        SurrogateError: The evaluations are of different spaces or test tables, fewer
            than 3 networks are common to both, or the settings are out of range.
    """
    if a.space != b.space:
        raise SurrogateError(
            f"the evaluations are of different spaces ({a.space!r} and {b.space!r}); compare "
            "two surrogates on the same test table"
        )
    if n_boot < 100:
        raise SurrogateError(f"n_boot={n_boot}: give at least 100 resamples (default {N_BOOT})")
    if not 0 < level < 1:
        raise SurrogateError(f"level={level}: give an interval level between 0 and 1, e.g. 0.95")
    where_b = {arch: i for i, arch in enumerate(b.archs)}
    ia = np.array([i for i, arch in enumerate(a.archs) if arch in where_b], dtype=np.int64)
    ib = np.array([where_b[a.archs[i]] for i in ia.tolist()], dtype=np.int64)
    if len(ia) < 3:
        raise SurrogateError(
            f"{a.space}: {len(ia)} test networks are common to both evaluations (need 3); "
            "score both surrogates on the same held-out test table"
        )
    true_a, true_b = a.true_mean[ia], b.true_mean[ib]
    seeds_a, seeds_b = a.per_seed[:, ia], b.per_seed[:, ib]
    same_true = np.array_equal(true_a, true_b, equal_nan=True)
    if not same_true or not np.array_equal(seeds_a, seeds_b, equal_nan=True):
        raise SurrogateError(
            f"{a.space}: the two evaluations hold different trained accuracies for the same "
            "networks; score both surrogates on the same test table"
        )
    pa, pb = a.pred_mean[ia], b.pred_mean[ib]
    ok = np.isfinite(seeds_a)
    runs = ok.sum(axis=0).astype(np.float64)  # single runs per network
    abs_a = np.where(ok, np.abs(pa - seeds_a), 0.0).sum(axis=0)
    abs_b = np.where(ok, np.abs(pb - seeds_a), 0.0).sum(axis=0)
    n = len(ia)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    out: dict[str, MetricDifference] = {}
    tail = (1 - level) / 2
    for name in PAIRED_METRICS:
        va = _metric_values(name, pa, true_a, abs_a, runs)
        vb = _metric_values(name, pb, true_a, abs_b, runs)
        boot = np.empty((n_boot, 2))
        for k, idx in enumerate(draws):
            boot[k] = (
                _metric_values(name, pa[idx], true_a[idx], abs_a[idx], runs[idx]),
                _metric_values(name, pb[idx], true_a[idx], abs_b[idx], runs[idx]),
            )
        boot = boot[np.isfinite(boot).all(axis=1)]  # a resample of constant values has no tau
        diffs = boot[:, 0] - boot[:, 1]
        if len(diffs) < 2:
            low = high = p = se_a = se_b = math.nan
        else:
            low, high = (float(q) for q in np.quantile(diffs, [tail, 1 - tail]))
            side = min(int((diffs <= 0).sum()), int((diffs >= 0).sum()))
            p = min(1.0, 2 * (side + 1) / (len(diffs) + 1))
            se_a, se_b = (float(x) for x in boot.std(axis=0, ddof=1))
        out[name] = MetricDifference(va, vb, va - vb, low, high, p, se_a, se_b)
    return PairedComparison(
        a.space, n, len(a.archs) - n, len(b.archs) - n, out, n_boot, seed, level
    )

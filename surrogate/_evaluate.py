"""Honest evaluation of a surrogate on held-out, really-trained architectures.

The test architectures are the trained rows of a table that the surrogate was not fitted
on: an architecture whose string was in the training data is dropped, and so is one that
is the same network up to relabelling as a training architecture (its class,
:func:`~nasrepro.surrogate.arch_classes`, was trained; a sampled hierarchical test set
holds such isomorphs under other strings, and they trained to the same accuracies as
their training twins, bit for bit, on the seeds both have). ``n_dropped_trained`` and
``n_dropped_isomorphs`` count the two. Ranking and fit metrics compare the predicted
mean with the mean over the trained seeds; the MAE averages single runs, so that it is
comparable to the seed-noise MAE, the mean disagreement between two seeds of one
architecture. The seed-noise tau is the Kendall tau between seed 0 and seed 1 over the
test architectures: how well one retraining ranks them, a yardstick for the surrogate's
tau where training is noisy. The noise ceiling (:func:`noise_ceiling_tau`) estimates the
tau that a perfect predictor of the expected accuracy would reach against that mean over
seeds: no surrogate can do better on average, however much data it sees;
``tau_of_ceiling`` is the tau as a fraction of it. ``mean_signed_error`` is the
predicted mean minus each single run, averaged (its bias), and ``coverage_2sigma`` the
fraction of single runs within the predicted mean +- 2 predicted seed-noise stds (0.95
for a calibrated Gaussian noise model).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.surrogate._data import SurrogateError, trained_rows
from nasrepro.surrogate._surrogate import Surrogate
from nasrepro.tables import Table, save_figure_atomic, write_text_atomic

__all__ = [
    "SpaceEvaluation",
    "evaluate",
    "rank_metrics",
    "noise_ceiling_tau",
    "write_report",
    "METRICS",
]

#: Keys of :attr:`SpaceEvaluation.metrics`, in the order they are printed.
METRICS: tuple[str, ...] = (
    "kendall_tau",
    "noise_ceiling_tau",
    "tau_of_ceiling",
    "spearman",
    "r2",
    "mae",
    "mean_signed_error",
    "seed_noise_mae",
    "seed_noise_tau",
    "coverage_2sigma",
    "n_train",
    "n_test",
    "n_dropped_trained",
    "n_dropped_isomorphs",
    "queries_per_s",
)

#: Cold batches timed for ``queries_per_s``; their median is reported.
SPEED_REPEATS = 3


@dataclass(frozen=True)
class SpaceEvaluation:
    """Held-out results of one space.

    Attributes:
        space: Space name.
        metrics: :data:`METRICS` to values (``None`` where the data do not allow one,
            e.g. a seed-noise MAE from a one-seed table). ``n_dropped_trained``: test
            architectures dropped because their string was trained on;
            ``n_dropped_isomorphs``: dropped because another string of the same class
            was (``None`` for a surrogate that recorded no classes, see
            :meth:`~nasrepro.surrogate.Surrogate.trained_on_class`).
            ``queries_per_s``: the held-out architectures predicted per second in one
            batch, from strings with the memo empty, the median of
            :data:`SPEED_REPEATS` batches (the query speed beside the quality; a wall
            time, so it still varies from run to run; ``benchmarks/surrogate_speed.py``
            measures it with its baselines).
        archs: Test architecture strings, ``(n_test,)``.
        true_mean: Mean final validation accuracy over the trained seeds, ``(n_test,)``.
        pred_mean, pred_std: Predicted mean and the std of one run (seed noise, with the
            model-error kappa where calibrated), ``(n_test,)``.
        per_seed: Final validation accuracy of each trained seed, ``(n_seed, n_test)``,
            NaN where a seed is missing (what the MAE averages over; see
            :func:`~nasrepro.surrogate.compare_evaluations`).
    """

    space: str
    metrics: dict[str, float | int | None]
    archs: tuple[str, ...]
    true_mean: np.ndarray
    pred_mean: np.ndarray
    pred_std: np.ndarray
    per_seed: np.ndarray


def _none_if_nan(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def rank_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    """Kendall tau, Spearman rho and R^2 of ``y_pred`` against ``y_true`` (both ``(n,)``)."""
    from scipy.stats import kendalltau, spearmanr
    from sklearn.metrics import r2_score

    if len(y_true) < 2:
        return {"kendall_tau": None, "spearman": None, "r2": None}
    return {
        "kendall_tau": _none_if_nan(float(kendalltau(y_pred, y_true).statistic)),
        "spearman": _none_if_nan(float(spearmanr(y_pred, y_true).statistic)),
        "r2": float(r2_score(y_true, y_pred)),
    }


def noise_ceiling_tau(per_seed: np.ndarray) -> float | None:
    """Estimated Kendall tau of a perfect predictor against the mean over seeds.

    ``per_seed`` is ``(n_seed, n_arch)``; architectures missing a seed are dropped.
    The mean pairwise Kendall tau between seeds is turned into a rank-based
    correlation of one run with another, ``r = sin(pi tau / 2)`` (Greiner's relation,
    exact for Gaussian scores and robust to the outlying dead cells that inflate a
    Pearson estimate). Spearman-Brown gives the reliability of the mean of ``k``
    seeds, ``R = k r / (1 + (k - 1) r)``; the expected accuracy correlates with that
    mean by ``sqrt(R)``, which is a tau of ``2 / pi * asin(sqrt(R))``. On the default
    cell table, the same model predicts the tau between the mean of two seeds and the
    third as 0.768; measured, 0.765. ``None`` with fewer than two seeds or a
    non-positive seed agreement.
    """
    from scipy.stats import kendalltau

    x = np.asarray(per_seed, dtype=np.float64)
    x = x[:, np.isfinite(x).all(axis=0)]
    k = x.shape[0]
    if k < 2 or x.shape[1] < 3:
        return None
    taus = [float(kendalltau(x[i], x[j]).statistic) for i in range(k) for j in range(i + 1, k)]
    tau = float(np.mean(taus))
    if not tau > 0:
        return None
    r = math.sin(math.pi * tau / 2)
    reliability = k * r / (1 + (k - 1) * r)
    return 2 / math.pi * math.asin(math.sqrt(reliability))


def evaluate(
    surrogate: Surrogate, table: Table, *, exclude_trained: bool = True
) -> SpaceEvaluation:
    """Evaluate ``surrogate`` on the trained architectures of ``table`` it was not fitted on.

    Args:
        surrogate: A fitted surrogate.
        table: A table of one space, trained under the surrogate's protocol.
        exclude_trained: Drop architectures the surrogate was fitted on, and their
            isomorphs (keep this on for honest figures).

    Raises:
        SurrogateError: The protocols differ, or no held-out architecture remains.
    """
    if table.protocol_id != surrogate.metadata_["protocol_id"]:
        trained = (
            f"was trained under protocol {table.protocol_id[:12]}"
            if table.has_protocol
            else f"holds imported results ({table.source.get('name', 'another benchmark')})"
        )
        raise SurrogateError(
            f"{table.path} {trained} but the surrogate was fitted under protocol "
            f"{str(surrogate.metadata_['protocol_id'])[:12]}; evaluate on a table of the "
            "same protocol"
        )
    space = table.space_name
    rows = trained_rows(table)
    archs_all = table.archs
    archs = [archs_all[r] for r in rows.tolist()]
    n_same: int = 0
    n_iso: int | None = 0
    if exclude_trained:
        same = surrogate.trained_on(archs, space)
        iso = surrogate.trained_on_class(archs, space)
        drop = same if iso is None else same | iso
        n_same = int(same.sum())
        n_iso = None if iso is None else int((iso & ~same).sum())
        keep = ~drop
        rows, archs = rows[keep], [a for a, k in zip(archs, keep, strict=True) if k]
    if not len(rows):
        raise SurrogateError(
            f"{table.path}: every trained architecture was in the training data (or is "
            "isomorphic to one there); evaluate on a held-out sample (a sweep with another "
            "--sample-seed)"
        )
    # A query's full cost (lowering, features and models): the memo is cleared before
    # each of SPEED_REPEATS batches, and the median is reported, as one wall time on a
    # shared machine varies by a factor of two (14,399 and 6,245/s on chain, 2026-12-07).
    times = []
    for _ in range(SPEED_REPEATS):
        surrogate.clear_memo()
        t0 = time.perf_counter()
        pred = surrogate.predict(archs, table.space)
        times.append(time.perf_counter() - t0)
    queries_per_s = len(archs) / max(float(np.median(times)), 1e-9)
    true_mean = table.query_many(rows, missing="nan").valid_acc
    per_seed = np.stack(
        [table.query_many(rows, seed=s, missing="nan").valid_acc for s in table.seeds]
    )  # (n_seed, n_test)
    ok = np.isfinite(per_seed)
    err = (pred.valid_acc - per_seed)[ok]  # predicted mean minus each single run
    mae = float(np.abs(err).mean())
    # single runs inside the predicted mean +- 2 predicted seed-noise stds
    inside = np.abs(per_seed - pred.valid_acc) <= 2 * pred.valid_std
    coverage = float(inside[ok].mean())
    noise: float | None = None
    noise_tau: float | None = None
    if len(table.seeds) >= 2:
        both = ok[0] & ok[1]
        if both.any():
            noise = float(np.abs(per_seed[0, both] - per_seed[1, both]).mean())
            noise_tau = rank_metrics(per_seed[0, both], per_seed[1, both])["kendall_tau"]
    ranks = rank_metrics(true_mean, pred.valid_acc)
    ceiling = noise_ceiling_tau(per_seed)
    tau = ranks["kendall_tau"]
    metrics: dict[str, float | int | None] = {
        **ranks,
        "mae": mae,
        "mean_signed_error": float(err.mean()),
        "seed_noise_mae": noise,
        "seed_noise_tau": noise_tau,
        "noise_ceiling_tau": ceiling,
        "tau_of_ceiling": None if tau is None or not ceiling else tau / ceiling,
        "coverage_2sigma": coverage,
        "n_train": int(surrogate.metadata_["n_train_archs"].get(space, 0)),
        "n_test": len(rows),
        "n_dropped_trained": n_same,
        "n_dropped_isomorphs": n_iso,
        "queries_per_s": queries_per_s,
    }
    metrics = {k: metrics[k] for k in METRICS}
    return SpaceEvaluation(
        space, metrics, tuple(archs), true_mean, pred.valid_acc, pred.valid_std, per_seed
    )


def _scatter(ev: SpaceEvaluation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    ax.errorbar(
        ev.true_mean, ev.pred_mean, yerr=ev.pred_std, fmt="o", ms=3, alpha=0.5, elinewidth=0.5
    )
    lo = float(np.nanmin([ev.true_mean.min(), ev.pred_mean.min()]))
    hi = float(np.nanmax([ev.true_mean.max(), ev.pred_mean.max()]))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    m = ev.metrics
    tau, r2 = m["kendall_tau"], m["r2"]
    ax.set_title(
        f"{ev.space}: tau={tau if tau is None else f'{tau:.3f}'}, "
        f"R2={r2 if r2 is None else f'{r2:.3f}'}, n={m['n_test']}",
        fontsize=9,
    )
    ax.set_xlabel("true final valid acc (mean over seeds, %)")
    ax.set_ylabel("predicted (mean +- std of one run, %)")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    plt.close(fig)


def write_report(evaluations: list[SpaceEvaluation], out: str | os.PathLike[str]) -> Path:
    """Write ``metrics.json``, ``report.md`` and ``scatter-{space}.png`` into ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {ev.space: ev.metrics for ev in evaluations}
    write_text_atomic(d / "metrics.json", json.dumps(summary, indent=1, sort_keys=True))
    lines = [
        "# Surrogate evaluation on held-out architectures",
        "",
        "| space | " + " | ".join(METRICS) + " |",
        "|---" * (len(METRICS) + 1) + "|",
    ]
    for ev in evaluations:
        cells = []
        for k in METRICS:
            v = ev.metrics[k]
            cells.append("n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {ev.space} | " + " | ".join(cells) + " |")
        _scatter(ev, d / f"scatter-{ev.space}.png")
    lines += [""] + [f"![{ev.space}](scatter-{ev.space}.png)" for ev in evaluations]
    write_text_atomic(d / "report.md", "\n".join(lines) + "\n")
    return d

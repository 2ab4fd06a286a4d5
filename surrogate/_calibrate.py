"""Calibrate a surrogate's predictive spread for single training runs.

A model's ``predict_dist`` std is the *seed noise* of one run around an architecture's
expected accuracy. A single run also differs from the *prediction* by the model's own
error, so ``mean +- 2 std`` covers too few runs of unseen architectures (measured on
the shipped surrogate: 0.90 on cell, 0.87 on chain, 0.77 on hierarchical). This adds
a per-space model-error std ``kappa``, in quadrature:
``std_run = sqrt(std_noise**2 + kappa**2)``.

``kappa`` is estimated on the training data only: K-fold models grouped by
architecture (every seed of an architecture, and every architecture of one class, in
the same fold: :func:`~nasrepro.surrogate.grouped_folds`) give out-of-fold means
and noise stds of single runs, and ``kappa`` is the smallest value for which
``coverage`` (0.95, a Gaussian's ±2 sigma) of the runs fall inside ``+- 2 std_run``,
per space and per target. Both are out-of-fold because the full model's noise stds on
its own training rows are narrower than on unseen ones (on the shipped chain data that
left held-out coverage at 0.898). The held-out test sets then say whether it carries
over (``surrogate eval``). A space with its own models (``space_models``) is
calibrated with fold models fitted on its own group's rows, as it is predicted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrepro.surrogate._data import TrainingData, grouped_folds
from nasrepro.surrogate._surrogate import Surrogate

__all__ = ["calibrate", "kappa_for_coverage"]


def kappa_for_coverage(resid: np.ndarray, std: np.ndarray, coverage: float = 0.95) -> float:
    """The smallest ``kappa >= 0`` with ``mean(|resid| <= 2 sqrt(std^2 + kappa^2)) >= coverage``.

    Each run is covered once ``kappa >= sqrt(max(0, (resid/2)^2 - std^2))``, so the answer
    is that quantity's ``coverage`` quantile (the order statistic that reaches it).
    """
    r, s = np.abs(np.asarray(resid, float)), np.asarray(std, float)
    need = np.sqrt(np.maximum(0.0, (r / 2) ** 2 - s**2))
    k = int(np.ceil(coverage * len(need))) - 1
    return float(np.sort(need)[min(max(k, 0), len(need) - 1)])


def calibrate(
    surrogate: Surrogate,
    data: TrainingData,
    *,
    folds: int = 5,
    coverage: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Estimate ``kappa`` per space and target on ``data`` (the surrogate's training data)
    and store it in ``surrogate.metadata_["model_error_std"]``; returns it with the
    out-of-fold coverage before and after."""
    keys = np.array([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)])
    _, groups = np.unique(keys, return_inverse=True)  # each run's architecture
    row_fold = grouped_folds(data, folds, seed)  # isomorphs share a fold
    spaces = np.array(data.spaces)
    # The spaces answered by each model group: the joint models (None) or a space's own.
    answers: dict[tuple[str, ...] | None, list[str]] = {}
    for sp in sorted(set(data.spaces)):
        answers.setdefault(surrogate.space_models.get(sp), []).append(sp)
    out: dict[str, dict[str, Any]] = {}
    for target, y in (("valid_acc", data.valid_acc), ("test_acc", data.test_acc)):
        oof = np.full(len(y), np.nan)
        std = np.full(len(y), np.nan)
        for f in range(folds):
            for answered in answers.values():  # one fold model per group, as predicted
                use = surrogate.fit_rows(answered[0], spaces)
                fit, held = use & (row_fold != f), (row_fold == f) & np.isin(spaces, answered)
                if not held.any():  # a fold left empty (fewer classes than folds)
                    continue
                m = surrogate._new().fit(data.X[fit], y[fit], groups[fit])
                oof[held], std[held] = m.predict_dist(data.X[held])
        for sp in sorted(set(data.spaces)):
            rows = spaces == sp
            r, s = y[rows] - oof[rows], std[rows]
            kappa = kappa_for_coverage(r, s, coverage)
            entry = out.setdefault(sp, {})
            entry[target] = kappa
            entry[f"{target}_oof_coverage_before"] = float(np.mean(np.abs(r) <= 2 * s))
            entry[f"{target}_oof_coverage_after"] = float(
                np.mean(np.abs(r) <= 2 * np.sqrt(s**2 + kappa**2))
            )
    surrogate.metadata_["model_error_std"] = {
        sp: {t: v[t] for t in ("valid_acc", "test_acc")} for sp, v in out.items()
    }
    surrogate.metadata_["calibration"] = {"folds": folds, "coverage": coverage, "seed": seed}
    return out

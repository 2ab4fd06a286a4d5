"""Surrogate model settings compared by grouped cross-validation on its training data only.

Rebuilds the shipped surrogate's exact training data (as ``calibrate_surrogate.py``
does), splits the architectures into ``--folds`` folds (every seed of an architecture,
and every architecture of one class, in one fold: ``nasrepro.surrogate.grouped_folds``),
and fits each configuration's ``valid_acc`` model on the other folds.
Per space it reports the out-of-fold Kendall tau of the predicted mean against the
architecture's mean over seeds, the MAE and the mean signed error against single runs,
and the noise booster's pinball loss on the held-out seed deviations (its quantiles;
lower is better). It also measures the prediction time per row on one core (mean and
noise booster, batched, one thread), beside the shipped settings (``default``) in the
same run. No test set is touched, so settings can be chosen here and judged once on the
held-out tables by ``nasrepro surrogate eval``.

``+space`` configurations append a one-hot space indicator to the features (the
featurizer itself is space-agnostic; this asks whether the model gains from knowing
the space).

    python benchmarks/surrogate_cv.py [--folds 5] [--configs default,lite,...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_surrogate import ROOT, rebuild_training_data  # noqa: E402

from nasrepro.surrogate import Surrogate, XGBSurrogate, grouped_folds  # noqa: E402
from nasrepro.surrogate._models import seed_deviations  # noqa: E402

CONFIGS: dict[str, dict[str, Any]] = {
    # the defaults up to 2026-12-06 ("default" in results/surrogate_cv.json, run before
    # the defaults became the m600-noise150 settings)
    "old-default": {
        "n_estimators": 1200,
        "learning_rate": 0.015,
        "noise_estimators": None,
        "noise_learning_rate": None,
    },
    "default": {},
    "default+space": {"_space": True},
    "noise300": {"noise_estimators": 300, "noise_learning_rate": 0.06},
    "noise150": {"noise_estimators": 150, "noise_learning_rate": 0.1},
    "m600-noise150": {
        "n_estimators": 600,
        "learning_rate": 0.03,
        "noise_estimators": 150,
        "noise_learning_rate": 0.1,
    },
    "m400d5-noise150": {
        "n_estimators": 400,
        "learning_rate": 0.04,
        "max_depth": 5,
        "noise_estimators": 150,
        "noise_learning_rate": 0.1,
    },
    "m300-noise100": {
        "n_estimators": 300,
        "learning_rate": 0.06,
        "noise_estimators": 100,
        "noise_learning_rate": 0.15,
    },
}


def _pinball(dev: np.ndarray, q_pred: np.ndarray, quantiles: tuple[float, float]) -> float:
    loss = 0.0
    for j, a in enumerate(quantiles):
        r = dev - q_pred[:, j]
        loss += float(np.mean(np.maximum(a * r, (a - 1) * r)))
    return loss / len(quantiles)


def run_config(
    name: str,
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    spaces: np.ndarray,
    groups: np.ndarray,
    fold_of_row: np.ndarray,
    folds: int,
    base: dict[str, Any],
) -> dict[str, Any]:
    params = dict(params)
    with_space = params.pop("_space", False)
    if with_space:
        names = sorted(set(spaces.tolist()))
        X = np.hstack([X, (spaces[:, None] == np.array(names)).astype(np.float64)])
    kw = {**base, **params, "n_jobs": 1}
    oof = np.full(len(y), np.nan)
    oof_q = np.full((len(y), 2), np.nan)
    t0 = time.perf_counter()
    model = None
    for f in range(folds):
        fit, held = fold_of_row != f, fold_of_row == f
        model = XGBSurrogate(**kw).fit(X[fit], y[fit], groups[fit])
        oof[held] = model.mean_.predict(X[held])
        oof_q[held] = np.asarray(model.noise_.predict(X[held])).reshape(-1, 2)
    fit_s = (time.perf_counter() - t0) / folds
    assert model is not None
    # prediction time per row, batched, one thread, on 5,000 rows
    Xp = np.tile(X, (int(np.ceil(5000 / len(X))), 1))[:5000]
    model.mean_.predict(Xp[:100])
    t0 = time.perf_counter()
    model.mean_.predict(Xp)
    model.noise_.predict(Xp)
    us_per_row = (time.perf_counter() - t0) / len(Xp) * 1e6
    rows, dev = seed_deviations(X, y, groups)
    out: dict[str, Any] = {
        "config": name,
        "params": {**params, **({"space_indicator": True} if with_space else {})},
        "fit_s_per_fold": fit_s,
        "predict_us_per_row": us_per_row,
        "trees_per_row": int(model.mean_.get_booster().num_boosted_rounds())
        + 2 * int(model.noise_.get_booster().num_boosted_rounds()),
        "spaces": {},
    }
    for sp in sorted(set(spaces.tolist())):
        m = spaces == sp
        g = groups[m]
        _, gi = np.unique(g, return_inverse=True)
        arch_mean = np.bincount(gi, weights=y[m]) / np.bincount(gi)
        arch_pred = np.bincount(gi, weights=oof[m]) / np.bincount(gi)
        in_sp = np.isin(rows, np.flatnonzero(m))
        out["spaces"][sp] = {
            "kendall_tau": float(kendalltau(arch_mean, arch_pred).statistic),
            "mae": float(np.mean(np.abs(oof[m] - y[m]))),
            "mean_signed_error": float(np.mean(oof[m] - y[m])),
            "noise_pinball": _pinball(
                dev[in_sp], oof_q[rows[in_sp]], kw.get("quantiles", (0.159, 0.841))
            ),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(ROOT / "surrogate" / "data" / "mnist1d-tiny"))
    ap.add_argument("--sweeps", default=str(ROOT / "benchmarks" / "data" / "sweeps"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    s = Surrogate.load(args.models)
    data, _ = rebuild_training_data(s, Path(args.sweeps))
    keys = np.array([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)])
    _, groups = np.unique(keys, return_inverse=True)  # each run's architecture
    fold_of_row = grouped_folds(data, args.folds, args.seed)  # isomorphs share a fold
    spaces = np.array(data.spaces)
    base = {k: v for k, v in s.metadata_["model_params"].items() if k != "n_jobs"}
    if "quantiles" in base:
        base["quantiles"] = tuple(base["quantiles"])
    results = []
    for name in args.configs.split(","):
        r = run_config(
            name,
            CONFIGS[name],
            data.X,
            data.valid_acc,
            spaces,
            groups,
            fold_of_row,
            args.folds,
            base,
        )
        results.append(r)
        sp = r["spaces"]
        print(
            f"{name:<17} trees/row {r['trees_per_row']:>5}  {r['predict_us_per_row']:>6.1f} us/row  "
            + "  ".join(
                f"{k[:5]} tau {v['kendall_tau']:.3f} mae {v['mae']:.2f} mse {v['mean_signed_error']:+.2f} "
                f"pin {v['noise_pinball']:.3f}"
                for k, v in sp.items()
            ),
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"folds": args.folds, "seed": args.seed, "results": results}, indent=1)
        )


if __name__ == "__main__":
    main()

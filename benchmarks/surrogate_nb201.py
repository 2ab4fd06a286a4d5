"""Do the surrogate's graph features carry over to real CIFAR data? (issue 25, item 3)

Fits the default surrogate's mean booster (XGBoost with ``XGBSurrogate``'s settings) on
1% and 10% of the isomorphism classes of each imported NAS-Bench-201 table (their search
metric, the 12-epoch x-valid accuracy), and reports the Kendall tau on the other
classes. The features are the same graph features as for our own tables, of each cell
lowered to NB201's macro skeleton (the table's recorded macro: C=16, N=5, 32x32 input,
10/100/120 classes). Baseline in the same run: ranking the held-out classes by parameter
count alone.

The split is by isomorphism class, as ``nasrepro surrogate fit/eval`` split a table
(:func:`~nasrepro.surrogate.split_rows`, the same draw with the split's seed): NB201's
15,625 cells form 6,466 classes (the table's ``canonical`` column), whose members compute
the same function. A split of cells put isomorphic siblings of fitted cells among the
held-out ones, and counted each held-out class once per member in the tau; until
2026-12-07 this script did that, and reported 0.808 / 0.892 on CIFAR-10 (1% / 10%).
Now, like ``surrogate fit`` and ``surrogate eval``, each class is one row, its canonical
representative (its features: the members' can differ, e.g. a convolution on a dead
edge adds parameters but not computation), with one value per class: the mean of
NB201's value over the class's members (each trained separately), which is the class
value ``nasrepro table compare`` gives a per-cell table, and less noisy than the
representative's own run. The model is fitted on the representatives of 1% / 10% of the
classes (65 / 647), and scored on the representatives of all the others, one item per
class. The params-only baseline ranks the same held-out representatives.

    python benchmarks/surrogate_nb201.py [--splits 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kendalltau
from xgboost import XGBRegressor

from nasrepro.spaces import get_space
from nasrepro.surrogate import XGBSurrogate, feature_names, features_many, split_rows
from nasrepro.tables import open_table


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", type=int, default=3, help="random fit/held-out splits per fraction")
    args = ap.parse_args()
    space = get_space("cell")
    params_col = feature_names().index("params")
    print(
        f"{'table':<22} {'fraction':>8} {'n fit':>6} {'tau (mean of splits)':>21} {'params-only tau':>16}"
    )
    for name in ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120"):
        t = open_table(name)
        m = t.macro
        t0 = time.perf_counter()
        archs = t.archs
        canonical = np.asarray(t.canonical)
        # one value per class: the mean over its members of NB201's value
        y_cell = t.query_many(archs, missing="nan").valid_acc
        ok = np.isfinite(y_cell)
        y = np.full(len(archs), np.nan)
        n = np.bincount(canonical[ok], minlength=len(archs))
        np.divide(np.bincount(canonical[ok], y_cell[ok], len(archs)), n, out=y, where=n > 0)
        # features of each class's representative (rows indexed by table row)
        reps = np.flatnonzero(canonical == np.arange(len(archs)))
        specs = [
            space.lower(space.parse(archs[r]), C=m["C"], N=m["N"], reduction="resblock")
            for r in reps.tolist()
        ]
        X = np.full((len(archs), len(feature_names())), np.nan)
        X[reps] = features_many(specs, tuple(m["input_shape"]), int(m["num_classes"]))
        feat_s = time.perf_counter() - t0
        for fraction in (0.01, 0.10):
            taus, base = [], []
            for split in range(args.splits):
                fit, held = split_rows(t, fraction, split)  # canonical rows, one per class
                k = len(fit)
                model = XGBRegressor(**XGBSurrogate(random_state=split)._booster_params())
                model.fit(X[fit], y[fit])
                taus.append(kendalltau(model.predict(X[held]), y[held]).statistic)
                base.append(kendalltau(X[held, params_col], y[held]).statistic)
            print(
                f"{name:<22} {fraction:>8.0%} {k:>6} {np.mean(taus):>14.3f} ± {np.std(taus):.3f} "
                f"{np.mean(base):>16.3f}"
            )
        print(
            f"{'':<22} ({len(reps)} classes of {len(archs)} cells; features in {feat_s:.1f} s; "
            f"metric {t.search_metric}, class mean)"
        )


if __name__ == "__main__":
    run()

"""Do the surrogate's graph features carry over to real CIFAR data? (issue 25, item 3)

Fits the default surrogate's mean booster (XGBoost with ``XGBSurrogate``'s settings) on
1% and 10% of the cells of each imported NAS-Bench-201 table (their search metric, the
12-epoch x-valid accuracy), and reports the Kendall tau on the other cells. The features
are the same graph features as for our own tables, of each cell lowered to NB201's
macro skeleton (the table's recorded macro: C=16, N=5, 32x32 input, 10/100/120
classes). Baseline in the same run: ranking the held-out cells by parameter count alone.

    python benchmarks/surrogate_nb201.py [--splits 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kendalltau
from xgboost import XGBRegressor

from nasrepro.spaces import get_space
from nasrepro.surrogate import XGBSurrogate, feature_names, features_many
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
        specs = [
            space.lower(space.parse(a), C=m["C"], N=m["N"], reduction="resblock") for a in archs
        ]
        X = features_many(specs, tuple(m["input_shape"]), int(m["num_classes"]))
        y = t.query_many(archs, missing="nan").valid_acc
        feat_s = time.perf_counter() - t0
        for fraction in (0.01, 0.10):
            taus, base = [], []
            for split in range(args.splits):
                perm = np.random.default_rng(split).permutation(len(y))
                k = round(fraction * len(y))
                fit, held = perm[:k], perm[k:]
                model = XGBRegressor(**XGBSurrogate(random_state=split)._booster_params())
                model.fit(X[fit], y[fit])
                taus.append(kendalltau(model.predict(X[held]), y[held]).statistic)
                base.append(kendalltau(X[held, params_col], y[held]).statistic)
            print(
                f"{name:<22} {fraction:>8.0%} {k:>6} {np.mean(taus):>14.3f} ± {np.std(taus):.3f} "
                f"{np.mean(base):>16.3f}"
            )
        print(f"{'':<22} (features of {len(y)} cells in {feat_s:.1f} s; metric {t.search_metric})")


if __name__ == "__main__":
    run()

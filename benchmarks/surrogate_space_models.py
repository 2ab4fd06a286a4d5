"""Which rows should fit the models that answer for each space (issue 25, item 3)?

For every space of the shipped recipe's training data (``calibrate_surrogate.py``'s
``training_data``), three candidate row sets are compared by 5-fold cross-validation
grouped by architecture (every seed of an architecture, and every architecture of one
class, in one fold: ``nasrepro.surrogate.grouped_folds``, as ``calibrate`` draws them),
on the training data only:

* ``joint``: every row of every space (the surrogate without ``space_models``);
* ``own``: the space's own rows;
* ``own+cell``: its own rows and the cell rows (not for the cell space itself).

Each fold fits the ``valid_acc`` mean booster with the shipped model's settings
(``XGBSurrogate`` defaults) and predicts the held-out rows of the space; out-of-fold
Kendall tau against each architecture's mean over seeds, MAE and mean signed error are
printed. The rule, fixed before looking: a space gets models of its own with the row
set of the highest out-of-fold tau, and stays on the joint models where ``joint`` wins.
The last line is that choice as ``nasrepro surrogate fit`` arguments, which
``benchmarks/surrogate_pipeline.sh fit`` passes on. No test set is read.

    python benchmarks/surrogate_space_models.py [--json OUT] [--args-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_surrogate import ROOT, training_data  # noqa: E402
from surrogate_ceiling import _arch_tau  # noqa: E402

from nasrepro.surrogate import TrainingData, XGBSurrogate, grouped_folds  # noqa: E402


def candidates(space: str) -> dict[str, tuple[str, ...] | None]:
    """Candidate row sets of ``space``: ``None`` is every row (the joint models)."""
    out: dict[str, tuple[str, ...] | None] = {"joint": None, "own": (space,)}
    if space != "cell":
        out["own+cell"] = (space, "cell")
    return out


def compare(data: TrainingData, params: dict[str, Any], folds: int = 5) -> list[dict[str, Any]]:
    """Out-of-fold figures of every candidate row set of every space."""
    X, y = data.X, data.valid_acc
    spaces = np.array(data.spaces)
    keys = np.array([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)])
    _, groups = np.unique(keys, return_inverse=True)  # each run's architecture
    fold = grouped_folds(data, folds, 0)  # isomorphs share a fold
    cache: dict[tuple[str, ...] | None, np.ndarray] = {}
    out = []
    for sp in sorted(set(data.spaces)):
        held_sp = spaces == sp
        for name, group in candidates(sp).items():
            t0 = time.perf_counter()
            use = np.ones(len(y), bool) if group is None else np.isin(spaces, group)
            if group not in cache:  # the joint fits serve every space
                oof = np.full(len(y), np.nan)
                for f in range(folds):
                    fit = use & (fold != f)
                    held = (fold == f) & (held_sp if group is not None else True)
                    m = XGBSurrogate(**params).fit(X[fit], y[fit], groups[fit])
                    oof[held] = m.mean_.predict(X[held])
                if group is None:
                    cache[group] = oof
            else:
                oof = cache[group]
            r, p, g = y[held_sp], oof[held_sp], groups[held_sp]
            out.append(
                {
                    "space": sp,
                    "rows": name,
                    "group": None if group is None else list(group),
                    "n_fit_rows": int(use.sum()),
                    "kendall_tau": _arch_tau(r, p, g),
                    "mae": float(np.mean(np.abs(p - r))),
                    "mean_signed_error": float(np.mean(p - r)),
                    "seconds": time.perf_counter() - t0,
                }
            )
    return out


def choice(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The rule: per space, the row set of the highest out-of-fold tau; joint: none."""
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["space"] not in best or r["kendall_tau"] > best[r["space"]]["kendall_tau"]:
            best[r["space"]] = r
    return {sp: r["group"] for sp, r in sorted(best.items()) if r["group"] is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", default=str(ROOT / "benchmarks" / "data" / "sweeps"))
    ap.add_argument("--jobs", type=int, default=2, help="XGBoost threads")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument(
        "--args-only", action="store_true", help="print only the chosen --space-model arguments"
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = training_data(Path(args.sweeps))
    params = {"n_jobs": args.jobs, "random_state": 0}  # the shipped model's defaults
    rows = compare(data, params)
    chosen = choice(rows)
    fit_args = " ".join(f"--space-model {sp}={','.join(g)}" for sp, g in chosen.items())
    if args.args_only:
        print(fit_args)
    else:
        print(f"training data {data.sha256()[:12]}: {len(data)} runs")
        print("5-fold grouped CV on the training data: out-of-fold tau / MAE / mean signed error")
        for r in rows:
            print(
                f"  {r['space']:<13} {r['rows']:<9} ({r['n_fit_rows']:>5} rows)  "
                f"tau {r['kendall_tau']:.3f}  MAE {r['mae']:.2f}  {r['mean_signed_error']:+.2f}"
            )
        print(f"({time.perf_counter() - t0:.0f} s)")
        print(f"chosen: {fit_args or '(joint models for every space)'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"training_data_sha256": data.sha256(), "rows": rows, "chosen": chosen},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()

"""Transfer study: what the cell table buys a surrogate of the chain and hierarchical spaces.

For each target space and each number ``n`` of space-specific training architectures
(0, 50, 100, 200, 500 by default; all seeds of each), fit a surrogate on

* ``without``: the ``n`` sampled architectures only, and
* ``with``: the same ``n`` plus the whole cell table,

and report Kendall tau (and Spearman, MAE) on the space's held-out test table. The
``n`` architectures are the first ``n`` of a permutation drawn with ``--seed``, so
the sets are nested. ``n = 0`` without the cell table has no training data (n/a).
Only final-epoch models are fitted (``fidelities=False``): the study scores final
validation accuracy. ``--plot`` draws tau against ``n`` per space, with the test
table's noise ceiling (the tau a perfect predictor of the expected accuracy would
reach; see ``nasrepro.surrogate.noise_ceiling_tau``).

Usage (all tables trained under one protocol, e.g. ``mnist1d-tiny``)::

    python benchmarks/surrogate_transfer.py --cell tables/data/cell-mnist1d-tiny.h5 \\
        --train chain=chain-train.h5 --test chain=chain-test.h5 \\
        --train hierarchical=hier-train.h5 --test hierarchical=hier-test.h5 \\
        --out transfer.json --plot transfer.png
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from nasrepro.surrogate import (
    Surrogate,
    TrainingData,
    evaluate,
    load_table,
    trained_rows,
)
from nasrepro.tables import Table


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected SPACE=PATH, got {item!r}")
        out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cell", required=True, help="the cell table (used whole)")
    ap.add_argument("--train", action="append", default=[], metavar="SPACE=PATH")
    ap.add_argument("--test", action="append", default=[], metavar="SPACE=PATH")
    ap.add_argument("--sizes", default="0,50,100,200,500")
    ap.add_argument("--model", default="xgb")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    ap.add_argument("--plot", default=None, help="also draw tau against n as a PNG here")
    args = ap.parse_args()
    train, test = _pairs(args.train), _pairs(args.test)
    if set(train) != set(test):
        raise SystemExit(f"need a --train and a --test table per space, got {train} and {test}")
    sizes = [int(v) for v in args.sizes.split(",")]
    cell = load_table(Table.open(args.cell))
    print(f"cell table: {len(cell)} runs")

    results: list[dict[str, Any]] = []
    for space, path in train.items():
        table = Table.open(path)
        test_table = Table.open(test[space])
        rows = trained_rows(table)
        order = np.random.default_rng(args.seed).permutation(rows)
        for n in sizes:
            if n > len(rows):
                print(f"{space}: only {len(rows)} trained architectures, skipping n={n}")
                continue
            own = load_table(table, np.sort(order[:n])) if n else None
            for with_cell in (False, True):
                parts = [p for p in (own, cell if with_cell else None) if p is not None]
                row: dict[str, Any] = {"space": space, "n": n, "with_cell": with_cell}
                if not parts:
                    row.update(kendall_tau=None, spearman=None, mae=None)
                else:
                    t0 = time.perf_counter()
                    s = Surrogate(args.model, random_state=args.seed, fidelities=False)
                    s.fit(TrainingData.concat(parts))
                    m = evaluate(s, test_table).metrics
                    keys = ("kendall_tau", "spearman", "mae", "n_test", "noise_ceiling_tau")
                    row.update({k: m[k] for k in keys})
                    row["fit_s"] = time.perf_counter() - t0
                results.append(row)
                print(json.dumps(row))

    print()
    print("| space | n | tau without cell | tau with cell |")
    print("|---|---|---|---|")
    for space in train:
        for n in sizes:
            got = {r["with_cell"]: r for r in results if r["space"] == space and r["n"] == n}
            if not got:
                continue

            def fmt(r: dict[str, Any] | None) -> str:
                v = None if r is None else r["kendall_tau"]
                return "n/a" if v is None else f"{v:.3f}"

            print(f"| {space} | {n} | {fmt(got.get(False))} | {fmt(got.get(True))} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    if args.plot:
        _plot(results, list(train), args.plot)


def _plot(results: list[dict[str, Any]], spaces: list[str], path: str) -> None:
    """Kendall tau against the number of space-specific architectures, one panel per space."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(spaces), figsize=(4.2 * len(spaces), 3.6), squeeze=False)
    for ax, space in zip(axes[0], spaces, strict=True):
        for with_cell, label, marker in ((False, "own samples", "o"), (True, "+ cell table", "s")):
            pts = [
                (r["n"], r["kendall_tau"])
                for r in results
                if r["space"] == space
                and r["with_cell"] == with_cell
                and r["kendall_tau"] is not None
            ]
            if pts:
                ax.plot(*zip(*sorted(pts), strict=True), marker=marker, label=label)
        ceilings = [
            r["noise_ceiling_tau"]
            for r in results
            if r["space"] == space and r.get("noise_ceiling_tau") is not None
        ]
        if ceilings:  # what a perfect predictor reaches against the test seeds' mean
            ax.axhline(ceilings[0], color="grey", ls="--", lw=1, label="noise ceiling")
        ax.set_title(space)
        ax.set_xlabel(f"trained {space} architectures in the fit")
        ax.set_ylabel("Kendall tau on held-out archs")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""Surrogate prediction throughput for 100,000 architectures, beside a per-architecture loop.

For each space: sample N architectures (seeded), then time

* ``loop``: the naive path, one architecture at a time (lower, features, predict);
  timed on ``--loop-n`` of them, since it is slow, and reported per second;
* ``vectorised``: lower and featurize all N, then one batched predict per model;
  the breakdown shows where the time goes.

Usage::

    python benchmarks/surrogate_speed.py                      # the shipped surrogate
    python benchmarks/surrogate_speed.py --models DIR
    python benchmarks/surrogate_speed.py --table tests/data/cell-mnist1d-smoke.h5  # fit one first

Prints a table, and with ``--json`` one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np

from nasrepro.spaces import get_space
from nasrepro.surrogate import (
    Surrogate,
    encode,
    load_shipped,
    load_table,
)
from nasrepro.tables import Table


def _surrogate(args: argparse.Namespace) -> Surrogate:
    if args.models:
        return Surrogate.load(args.models)
    if args.table:
        t0 = time.perf_counter()
        s = Surrogate("xgb", random_state=0).fit(load_table(Table.open(args.table)))
        print(f"fitted on {args.table} in {time.perf_counter() - t0:.1f}s")
        return s
    return load_shipped()


def _bench_space(s: Surrogate, space_name: str, n: int, loop_n: int, seed: int) -> dict[str, Any]:
    space = get_space(space_name)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    archs = [space.sample(rng) for _ in range(n)]
    t_sample = time.perf_counter() - t0

    t0 = time.perf_counter()
    for a in archs[:loop_n]:
        s.predict([a], space)
    t_loop = time.perf_counter() - t0

    t0 = time.perf_counter()
    X = encode(archs, space, s.protocol, s.encoding)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = s.predict_features(X)
    t_pred = time.perf_counter() - t0
    assert pred.valid_acc.shape == (n,)
    return {
        "space": space_name,
        "n": n,
        "sample_s": t_sample,
        "loop_n": loop_n,
        "loop_archs_per_s": loop_n / t_loop,
        "vec_features_s": t_feat,
        "vec_predict_s": t_pred,
        "vec_total_s": t_feat + t_pred,
        "vec_archs_per_s": n / (t_feat + t_pred),
        "speedup": (n / (t_feat + t_pred)) / (loop_n / t_loop),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=None, help="surrogate directory (default: shipped)")
    ap.add_argument("--table", default=None, help="fit an xgb surrogate on this table first")
    ap.add_argument("--spaces", default="cell,chain,hierarchical")
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--loop-n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    s = _surrogate(args)
    rows = [
        _bench_space(s, name, args.n, min(args.loop_n, args.n), args.seed)
        for name in args.spaces.split(",")
    ]
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "rows": rows}))
        return
    print(
        f"surrogate {s.model} ({s.metadata_['n_features']} features), {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"{'space':>13} {'n':>8} {'loop arch/s':>12} {'features s':>11} {'predict s':>10} "
        f"{'total s':>8} {'vec arch/s':>11} {'speedup':>8}"
    )
    for r in rows:
        print(
            f"{r['space']:>13} {r['n']:>8} {r['loop_archs_per_s']:>12.0f} "
            f"{r['vec_features_s']:>11.2f} {r['vec_predict_s']:>10.2f} {r['vec_total_s']:>8.2f} "
            f"{r['vec_archs_per_s']:>11.0f} {r['speedup']:>7.1f}x"
        )


if __name__ == "__main__":
    main()

"""Calibrate the ``mnist1d-tiny`` protocol: seed agreement, noise ratio and cost.

For each candidate setting, trains ``--cells`` random canonical cells x 2 seeds with
two worker processes (one torch thread each, as a sweep runs) and prints:

* Spearman correlation between seed 0 and seed 1 of the final validation accuracy
  (criterion: >= 0.9);
* median per-cell seed standard deviation / standard deviation across cells
  (criterion: <= 0.25);
* mean wall time of one cell-seed (criterion: <= 1.0 s);
* the accuracy range.

With ``--from-sweep DIR`` it trains nothing and reads the same figures for the
registered protocol off a sweep of it (the results are deterministic, so they are the
numbers the training would give); the time is then the recorded training time of a
cell-seed (``sum(epoch_time_s)``), not the wall time per trial.

Usage:
    python benchmarks/calibrate_mnist1d.py --cells 200
    python benchmarks/calibrate_mnist1d.py --cells 40 --grid "C=8,N=1,epochs=3,batch_size=128"
    python benchmarks/calibrate_mnist1d.py --cells 200 --from-sweep benchmarks/data/sweeps/cell-mnist1d-tiny
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import time
from dataclasses import replace

import numpy as np
from scipy.stats import spearmanr


def _init() -> None:
    import torch

    torch.set_num_threads(1)


def _one(job: tuple[int, int, dict]) -> tuple[int, int, float, float]:
    from nasrepro.bench.harness._train import train
    from nasrepro.spaces import CellArch
    from nasrepro.tables import Protocol

    index, seed, pdict = job
    t0 = time.perf_counter()
    r = train(CellArch.from_index(index), Protocol.from_dict(pdict), seed, static=False)
    return index, seed, r.final["valid_acc"], time.perf_counter() - t0


def evaluate(pdict: dict, cells: list[int], workers: int = 2) -> dict:
    jobs = [(c, s, pdict) for c in cells for s in (0, 1)]
    acc: dict[tuple[int, int], float] = {}
    times = []
    with cf.ProcessPoolExecutor(workers, initializer=_init) as ex:
        list(ex.map(_one, jobs[:2]))  # warm-up: imports, dataset cache
        for c, s, a, t in ex.map(_one, jobs):
            acc[c, s] = a
            times.append(t)
    return figures(acc, times, cells)


def from_sweep(sweep_dir: str, protocol_id: str, n_cells: int, sample_seed: int) -> tuple:
    """Figures of ``n_cells`` random cells that have seeds 0 and 1 in a sweep."""
    from pathlib import Path

    from nasrepro.spaces import CellArch
    from nasrepro.tables import iter_chunks, read_chunk

    acc: dict[tuple[int, int], float] = {}
    secs: dict[tuple[int, int], float] = {}
    for path in iter_chunks(Path(sweep_dir)):
        chunk = read_chunk(path)
        if chunk["protocol_id"] != protocol_id:
            raise SystemExit(f"{path} was trained under another protocol")
        for r in chunk["results"]:
            key = (CellArch.from_string(r.arch).index, r.seed)
            acc[key] = r.final["valid_acc"]
            secs[key] = float(sum(r.history["epoch_time_s"]))
    both = sorted(c for c, s in acc if s == 0 and (c, 1) in acc)
    if len(both) < n_cells:
        raise SystemExit(f"only {len(both)} cells have seeds 0 and 1 in {sweep_dir} so far")
    rng = np.random.default_rng(sample_seed)
    cells = [int(c) for c in rng.choice(both, n_cells, replace=False)]
    times = [secs[c, s] for c in cells for s in (0, 1)]
    return figures(acc, times, cells), len(both)


def figures(acc: dict[tuple[int, int], float], times: list[float], cells: list[int]) -> dict:
    a0 = np.array([acc[c, 0] for c in cells])
    a1 = np.array([acc[c, 1] for c in cells])
    both = np.stack([a0, a1], 1)
    seed_std = both.std(1, ddof=1)
    cross_std = both.mean(1).std(ddof=1)
    return {
        "spearman": float(spearmanr(a0, a1).statistic),
        "noise_ratio": float(np.median(seed_std) / cross_std),
        "mean_s": float(np.mean(times)),
        "max_s": float(np.max(times)),
        "acc_min": float(both.mean(1).min()),
        "acc_median": float(np.median(both.mean(1))),
        "acc_max": float(both.mean(1).max()),
    }


def main() -> None:
    from nasrepro.spaces import get_space
    from nasrepro.tables import Protocol, get_protocol

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--sample-seed", type=int, default=123)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--grid",
        action="append",
        default=[],
        help="a candidate as k=v,... overriding the registered mnist1d-tiny protocol",
    )
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--from-sweep", help="read the registered protocol's figures off a sweep")
    args = ap.parse_args()

    try:
        base = get_protocol("mnist1d-tiny")
    except ValueError:
        base = Protocol(
            name="mnist1d-tiny",
            dataset="mnist1d",
            n_train=4000,
            n_valid=1000,
            n_test=1000,
            epochs=4,
            batch_size=128,
            C=8,
            N=1,
            reduction="poolreduce",
        )
    candidates = [base]
    for g in args.grid:
        kv = {}
        for item in g.split(","):
            k, v = item.split("=")
            field_type = type(getattr(base, k))
            kv[k] = field_type(v) if field_type is not bool else v == "True"
        candidates.append(replace(base, **kv))
    if args.grid:
        candidates = candidates[1:]

    if args.from_sweep:
        res, n_avail = from_sweep(args.from_sweep, base.id, args.cells, args.sample_seed)
        print(
            f"{base.name} ({base.id[:12]}): {args.cells} random cells of the {n_avail} "
            f"with seeds 0 and 1 in {args.from_sweep}; time = recorded training s/cell-seed"
        )
        for k, v in res.items():
            print(f"{k:>12}: {v:.3f}")
        print("criteria: spearman >= 0.9, noise_ratio <= 0.25, mean_s <= 1.0")
        return

    space = get_space("cell")
    reps = np.array(space.representative_indices())
    cells = [
        int(i)
        for i in np.random.default_rng(args.sample_seed).choice(reps, args.cells, replace=False)
    ]

    keys = ["C", "N", "reduction", "epochs", "batch_size", "n_train", "n_valid", "lr"]
    header = keys + [
        "spearman",
        "noise_ratio",
        "mean_s",
        "max_s",
        "acc_min",
        "acc_median",
        "acc_max",
    ]
    print(f"{args.cells} random canonical cells x 2 seeds, {args.workers} workers x 1 thread")
    print(" | ".join(f"{h:>10}" for h in header))
    rows = []
    for p in candidates:
        res = evaluate(p.to_dict(), cells, args.workers)
        row = {k: getattr(p, k) for k in keys} | res
        rows.append(row)
        cells_txt = [
            f"{row[h]:>10.3f}" if isinstance(row[h], float) else f"{row[h]!s:>10}" for h in header
        ]
        print(" | ".join(cells_txt), flush=True)
    print("criteria: spearman >= 0.9, noise_ratio <= 0.25, mean_s <= 1.0")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

"""How much of a table's recorded training time is seed-to-seed noise.

The simulated clock charges each query the recorded time of the seed it draws, so
noise in those times (a busy machine, a cold cache) becomes noise in every strategy's
budget. For each isomorphism class this compares its seeds' full-training times.

Run: ``python benchmarks/table_time_noise.py [TABLE]`` (default: the shipped table).
"""

from __future__ import annotations

import sys

import numpy as np

from nasrepro.tables import default_table_path, open_table


def main(path: str) -> None:
    t = open_table(path)
    if not t.has_times or len(t.seeds) < 2:
        raise SystemExit(f"{path}: needs recorded times and at least two seeds")
    reps = np.flatnonzero(np.asarray(t.canonical) == np.arange(t.n_rows))
    k = list(t.metric_names).index("epoch_time_s")
    secs = t.metrics[reps, :, :, k].astype(np.float64).sum(axis=2)  # (classes, seeds)
    secs = secs[np.isfinite(secs).all(axis=1)]
    logs = np.log(secs)
    within = logs.var(axis=1, ddof=1).mean() / logs.reshape(-1).var(ddof=1)
    ratio = secs.max(axis=1) / secs.min(axis=1)
    corr = np.corrcoef(logs.T)
    pairs = [(i, j) for i in range(len(t.seeds)) for j in range(i + 1, len(t.seeds))]
    print(f"table {path}: {len(secs)} classes x {len(t.seeds)} seeds")
    print(f"mean full-training time {secs.mean():.3f} s")
    print(f"share of the variance of log(time) within a class (seed to seed): {within:.2f}")
    print(
        f"slowest/fastest seed of a class: median {np.median(ratio):.2f}x, "
        f"over 2x in {int((ratio > 2).sum())} classes ({(ratio > 2).mean():.0%}), "
        f"max {ratio.max():.1f}x"
    )
    print(
        "correlation of log(time) between seeds: "
        + ", ".join(f"{t.seeds[i]}-{t.seeds[j]} {corr[i, j]:.2f}" for i, j in pairs)
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(default_table_path()))

"""Wall time of leaderboards on the surrogate benchmarks, with and without the prediction memo.

``Surrogate.predict`` remembers what it has predicted (``MEMO_SIZE`` per space and
epoch), so a strategy that asks again for an architecture (evolution's survivors,
local search's neighbourhoods, the rungs of successive halving) pays a lookup. This
runs every strategy for ``--seeds`` seeds at the default budget on each surrogate
benchmark, in one process (``--jobs 1``), after a one-seed warm-up, first with the
memo off (``MEMO_SIZE = 0``: the baseline) and then on, and prints the wall seconds per strategy side by side. The
two runs must give the same traces bit for bit; the script checks it and says so::

    python benchmarks/surrogate_leaderboard_wall.py                  # 3 seeds, both benchmarks
    python benchmarks/surrogate_leaderboard_wall.py --seeds 5 --benchmarks chain-mnist1d-tiny-surrogate
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard
from nasrepro.surrogate import _surrogate

BENCHMARKS = "chain-mnist1d-tiny-surrogate,hierarchical-mnist1d-tiny-surrogate"
TRACE = ("time", "valid_acc", "epoch", "cost", "regret")


def run(name: str, seeds: int, memo: bool) -> tuple[float, dict[str, float], dict]:
    saved = _surrogate.MEMO_SIZE
    _surrogate.MEMO_SIZE = saved if memo else 0
    try:
        config = LeaderboardConfig(BenchmarkSpec(name), (), tuple(range(seeds)), jobs=1)
        t0 = time.perf_counter()
        lb = run_leaderboard(config)
        wall = time.perf_counter() - t0
    finally:
        _surrogate.MEMO_SIZE = saved
    per = {s: sum(r.wall_s for r in runs) for s, runs in lb.runs.items()}
    return wall, per, lb.runs


def same(a: dict, b: dict) -> bool:
    for s, runs in a.items():
        for ra, rb in zip(runs, b[s], strict=True):
            if not all(np.array_equal(getattr(ra, f), getattr(rb, f)) for f in TRACE):
                return False
            if list(ra.incumbents) != list(rb.incumbents):
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmarks", default=BENCHMARKS)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    for name in args.benchmarks.split(","):
        run(name, 1, memo=True)  # warm up: imports and caches (each run loads its own surrogate)
        off_wall, off, off_runs = run(name, args.seeds, memo=False)
        on_wall, on, on_runs = run(name, args.seeds, memo=True)
        print(f"{name}: {args.seeds} seeds per strategy, default budget, 1 process")
        print(f"{'strategy':>22} {'memo off s':>10} {'memo on s':>10} {'speedup':>8}")
        for s in off:
            print(f"{s:>22} {off[s]:>10.1f} {on[s]:>10.1f} {off[s] / on[s]:>7.2f}x")
        print(
            f"{'all (wall)':>22} {off_wall:>10.1f} {on_wall:>10.1f} {off_wall / on_wall:>7.2f}x"
            f"   same traces: {'yes' if same(off_runs, on_runs) else 'NO'}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

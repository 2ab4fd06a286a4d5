"""All six one-shot methods x 10 seeds under mnist1d-tiny: cost against the issue's goals.

Runs ``nasrepro oneshot leaderboard`` (one torch thread per search, ``--jobs`` searches at
once; resumable in ``--out``) and prints, per method, the search time in CPU seconds
beside the baseline measured in the same run: one stand-alone training of a cell under
the same protocol on the same machine (``cost.json``). Goals (issue 24): an RSPS or
DARTS-V1 search <= 5 CPU-minutes on 1 core; all six x 10 seeds <= 2 CPU-hours.

    python benchmarks/oneshot_all.py --jobs 2 --out benchmarks/results/oneshot
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from nasrepro.bench.cli import main


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rank-cells", type=int, default=1000)
    ap.add_argument("--rank-seeds", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/oneshot")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rc = main([
        "oneshot", "leaderboard", "--seeds", str(args.seeds), "--jobs", str(args.jobs),
        "--rank-cells", str(args.rank_cells), "--rank-seeds", str(args.rank_seeds), "--out", args.out, "--no-track",
    ])  # fmt: skip
    if rc:
        raise SystemExit(rc)
    wall = time.perf_counter() - t0
    out = Path(args.out)
    base = json.loads((out / "cost.json").read_text())["standalone_seconds"]
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    print(
        f"\nbaseline: one stand-alone mnist1d-tiny training = {base:.2f} s (1 thread, this machine)"
    )
    print(
        f"{'method':<9} {'runs':>4} {'CPU s mean':>10} {'CPU s max':>9} {'wall s mean':>11} {'FTE':>6}  goal"
    )
    total = 0.0
    for m in ("rsps", "darts-v1", "darts-v2", "gdas", "setn", "enas"):
        rs = [r for r in runs if r["method"] == m]
        cpu = np.array([r["search_cpu_seconds"] for r in rs])
        wall_s = np.array([r["search_seconds"] for r in rs])
        total += float(cpu.sum())
        goal = ""
        if m in ("rsps", "darts-v1"):
            goal = f"<= 300 s: {'met' if cpu.max() <= 300 else 'MISSED'}"
        print(
            f"{m:<9} {len(rs):>4} {cpu.mean():>10.1f} {cpu.max():>9.1f} {wall_s.mean():>11.1f} "
            f"{cpu.mean() / base:>6.1f}  {goal}"
        )
    print(
        f"all searches: {total / 3600:.3f} CPU-hours (goal <= 2: {'met' if total <= 7200 else 'MISSED'}); "
        f"the whole command (with ranking checks, retraining and the black-box side) {wall:.0f} s wall"
    )


if __name__ == "__main__":
    run()

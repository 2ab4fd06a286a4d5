"""Wall time of the quick and the full default leaderboard, beside the issue's limits.

Runs ``nasrepro leaderboard`` as a user would, in a subprocess with MLflow tracking to
a fresh SQLite store (start-up and logging included): the quick leaderboard
(``--quick``: 5 seeds, 20x budget) and the full default one (all strategies, 30 seeds,
100x budget), each with all cores and, as the baseline, with one process (``--jobs
1``). Prints the wall seconds against the limits: 60 s for ``--quick`` and 600 s for
the full leaderboard on a 2-core machine::

    python benchmarks/leaderboard_wall.py [--table T] [--skip-serial]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NASREPRO = [sys.executable, "-m", "nasrepro.bench.cli"]
RUNS = [("quick", ["--quick"], 60.0), ("full (30 seeds, 100x)", [], 600.0)]


def wall(args: list[str], tmp: Path, tag: str) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / f'{tag}.db'}"}
    cmd = [*NASREPRO, "leaderboard", *args, "--out", str(tmp / tag)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=None, help="table file (default: the shipped one)")
    ap.add_argument("--skip-serial", action="store_true", help="no --jobs 1 baseline")
    args = ap.parse_args(argv)
    extra = [] if args.table is None else ["--table", str(Path(args.table).resolve())]
    jobs = os.cpu_count() or 1
    print(f"nasrepro leaderboard, MLflow to SQLite, {jobs} cores, table {args.table or 'shipped'}")
    print(f"{'leaderboard':<24}{'limit s':>10}{f'--jobs {jobs} s':>14}{'--jobs 1 s':>14}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i, (name, flags, limit) in enumerate(RUNS):
            par = wall([*flags, *extra, "--jobs", str(jobs)], tmp, f"p{i}")
            ser = (
                ""
                if args.skip_serial
                else f"{wall([*flags, *extra, '--jobs', '1'], tmp, f's{i}'):>14.1f}"
            )
            print(f"{name:<24}{limit:>10.0f}{par:>14.1f}{ser}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate the shipped reference results of the built-in strategies.

Runs every registered strategy for 100 seeds at the default budget (a leaderboard)
and writes its ``results.json`` to ``strategies/reference/<benchmark>.json``, which
``nasrepro validate`` compares new strategies with::

    python benchmarks/make_reference.py                       # the shipped default table
    python benchmarks/make_reference.py --table my.h5 --out ref.json --seeds 20
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from nasrepro.bench.sim import (
    DEFAULT_BENCHMARK,
    DEFAULT_BUDGET,
    BenchmarkSpec,
    LeaderboardConfig,
    default_jobs,
    results_dict,
    run_leaderboard,
    strategies_arg,
    summarize,
)

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "strategies" / "reference"


def make_reference(
    spec: BenchmarkSpec,
    out: Path | None,
    *,
    seeds: int = 100,
    budget: str = DEFAULT_BUDGET,
    workers: int = 1,
    jobs: int = 1,
    strategies: tuple[str, ...] = (),
    verbose: bool = False,
) -> Path:
    """Run the leaderboard and write its results as a reference file; returns its path."""
    config = LeaderboardConfig(spec, strategies, tuple(range(seeds)), budget, workers, jobs)

    def progress(done: int, total: int) -> None:
        if verbose:
            print(f"\r{done}/{total} runs", end="", file=sys.stderr, flush=True)

    lb = run_leaderboard(config, progress=progress)
    path = out if out is not None else REFERENCE_DIR / f"{lb.benchmark['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_dict(lb, summarize(lb)), indent=None) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default=DEFAULT_BENCHMARK)
    ap.add_argument("--table", default=None, help="a table file instead of a registered benchmark")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--budget", default=DEFAULT_BUDGET)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=default_jobs())
    ap.add_argument("--strategies", default="all")
    ap.add_argument(
        "--out", type=Path, default=None, help="default: strategies/reference/NAME.json"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    path = make_reference(
        BenchmarkSpec(args.benchmark, args.table),
        args.out,
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        jobs=args.jobs,
        strategies=strategies_arg(args.strategies),
        verbose=True,
    )
    print(f"\nwrote {path} in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

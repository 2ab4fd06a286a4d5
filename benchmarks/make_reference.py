"""Regenerate the shipped reference results of the built-in strategies.

Runs every registered strategy for 100 seeds at the default budget (a leaderboard)
and writes its ``results.json`` to ``strategies/reference/<benchmark>.json``, which
``nasrepro validate`` compares new strategies with::

    python benchmarks/make_reference.py                       # the shipped default table
    python benchmarks/make_reference.py --table my.h5 --out ref.json --seeds 20
    python benchmarks/make_reference.py --restat              # every shipped reference

Every finished run is kept in ``--runs`` (default ``runs/reference/NAME-BUDGET-wWORKERS``)
as it finishes, so the same command after a crash or Ctrl-C runs only what is missing
(a reference takes minutes); the reference file is written whole or not at all.

``--restat`` runs nothing: it recomputes each strategy's CI and the pairwise tests of a
reference from the per-seed final regrets it stores (after a change of statistics,
2026-12-07: bootstrap to Student t, pairwise tests added), writes them back, and prints
the pairs that differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from nasrepro.bench.sim import (
    DEFAULT_BENCHMARK,
    DEFAULT_BUDGET,
    BenchmarkSpec,
    LeaderboardConfig,
    default_jobs,
    mean_ci,
    pairwise_tests,
    results_dict,
    run_leaderboard,
    strategies_arg,
    summarize,
)
from nasrepro.tables import write_text_atomic

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
    runs_dir: Path | None = None,
) -> Path:
    """Run the leaderboard and write its results as a reference file; returns its path.

    ``runs_dir`` keeps each finished run and reuses the stored runs of the same
    configuration (a resume), as ``nasrepro leaderboard --out`` does."""
    config = LeaderboardConfig(spec, strategies, tuple(range(seeds)), budget, workers, jobs)

    def progress(done: int, total: int) -> None:
        if verbose:
            print(f"\r{done}/{total} runs", end="", file=sys.stderr, flush=True)

    lb = run_leaderboard(config, progress=progress, runs_dir=runs_dir)
    if verbose and lb.reused:
        print(f"\n{lb.reused} runs read back from {runs_dir}", file=sys.stderr)
    path = out if out is not None else REFERENCE_DIR / f"{lb.benchmark['name']}.json"
    write_text_atomic(path, json.dumps(results_dict(lb, summarize(lb)), indent=None) + "\n")
    return path


def restat(path: Path) -> list[str]:
    """Recompute the CIs and pairwise tests of the reference at ``path`` in place;
    returns the pairs that differ, one line each."""
    ref = json.loads(path.read_text())
    finals = {}
    for name, s in ref["strategies"].items():
        final = np.array(s["final_regret"], dtype=np.float64)
        s["summary"]["ci_low"], s["summary"]["ci_high"] = mean_ci(final)
        finals[name] = final
    ref["pairwise"] = pairwise_tests(finals)
    write_text_atomic(path, json.dumps(ref, indent=None) + "\n")
    differ = [p for p in ref["pairwise"]["pairs"] if p["differs"]]
    return [
        (f"{p['a']} < {p['b']}" if p["diff"] < 0 else f"{p['b']} < {p['a']}")
        + f"  diff {abs(p['diff']):.3f}  p (Holm) {p['p_holm']:.2g}"
        for p in sorted(differ, key=lambda p: p["p_holm"])
    ] + [f"{len(differ)} of {len(ref['pairwise']['pairs'])} pairs differ"]


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
    ap.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="where finished runs are kept for a resume (default "
        "runs/reference/NAME-BUDGET-wWORKERS)",
    )
    ap.add_argument(
        "--restat",
        action="store_true",
        help="recompute the statistics of the shipped references (or of --out) and stop",
    )
    args = ap.parse_args(argv)
    if args.restat:
        for path in [args.out] if args.out else sorted(REFERENCE_DIR.glob("*.json")):
            print(f"{path.name}:")
            for line in restat(path):
                print(f"  {line}")
        return 0
    t0 = time.perf_counter()
    name = Path(args.table).stem if args.table else args.benchmark
    runs = args.runs or Path("runs", "reference", f"{name}-{args.budget}-w{args.workers}")
    path = make_reference(
        BenchmarkSpec(args.benchmark, args.table),
        args.out,
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        jobs=args.jobs,
        strategies=strategies_arg(args.strategies),
        verbose=True,
        runs_dir=runs,
    )
    print(f"\nwrote {path} in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each strategy's own time per ask+tell, beside the simulated training time per evaluation.

The runner measures the wall time spent inside ``ask`` and ``tell``; the table
records what each evaluation would have cost to train. The speed-up is the simulated
training time per evaluation over the run's whole wall time per evaluation (ask, tell,
the table's queries and the runner's bookkeeping): how much faster than real a search
on the table runs. Until 2026-12-07 it divided by ask+tell alone, an upper bound (an
audit: 91,158x for random search on the smoke table)::

    python benchmarks/strategy_overhead.py --table tests/data/cell-mnist1d-smoke.h5 --seeds 3
"""

from __future__ import annotations

import argparse
import sys

from threadpoolctl import threadpool_limits

from nasrepro.bench.sim import (
    DEFAULT_BENCHMARK,
    DEFAULT_BUDGET,
    BenchmarkSpec,
    open_benchmark,
)
from nasrepro.bench.sim._runner import Budget, run
from nasrepro.strategies import get_strategy, list_strategies


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default=DEFAULT_BENCHMARK)
    ap.add_argument("--table", default=None)
    ap.add_argument("--budget", default=DEFAULT_BUDGET)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    threadpool_limits(1)  # as in leaderboard worker processes
    bench = open_benchmark(BenchmarkSpec(args.benchmark, args.table))
    budget = Budget.parse(args.budget, bench.typical_cost_s)
    print(f"benchmark {bench.name}, budget {budget} ({args.budget}), {args.seeds} seeds, 1 worker")
    head = ("strategy", "evals/run", "ask+tell ms", "train s/eval", "speed-up", "wall s/run")
    print(f"{head[0]:<22}" + "".join(f"{h:>14}" for h in head[1:]))
    for name in list_strategies():
        cls = get_strategy(name)
        if not cls.supports(bench.space):
            print(f"{name:<22} (does not support {bench.space.name})")
            continue
        runs = [
            run(cls(bench.space, max_epoch=bench.max_epoch, seed=s), bench, budget, seed=s)
            for s in range(args.seeds)
        ]
        n = sum(r.n_evaluations for r in runs)
        own = sum(r.strategy_s for r in runs) / n
        sim = sum(r.simulated_s for r in runs) / n
        wall = sum(r.wall_s for r in runs) / len(runs)
        per_eval = sum(r.wall_s for r in runs) / n  # the whole run: queries and bookkeeping too
        print(
            f"{name:<22}{n / len(runs):>14.1f}{own * 1e3:>14.3f}{sim:>14.3f}"
            f"{sim / per_eval:>14.0f}{wall:>14.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweep REINFORCE's learning rate on a table, with random search measured in the same run.

NAS-Bench-201's REINFORCE script takes the Adam learning rate as an argument (its
usage line shows 0.001; its grid script sweeps 0.01-0.5) and NATS-Bench runs it with
0.01; see the docstring of :class:`nasrepro.strategies.Reinforce`. This script runs
one leaderboard of REINFORCE at each rate of ``--lrs`` plus random search, on the same
seeds and budget, and prints per strategy the final test regret (mean with a 95%
Student-t CI, as the leaderboard gives it, and median), the area under the anytime
regret curve (mean with a 95% percentile-bootstrap CI), the mean number of
evaluations, and the paired difference from random search (same seed index: the same
benchmark seed draws)::

    python benchmarks/reinforce_lr_sweep.py                      # default table, 30 seeds, 100x
    python benchmarks/reinforce_lr_sweep.py --seeds 100 --jobs 2 --out sweep.txt

The AUC is the mean regret over the leaderboard's log-spaced time grid, which starts
when every run of this leaderboard has a result: values compare within one output,
not with a leaderboard of other strategies.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.sim import (
    DEFAULT_BENCHMARK,
    DEFAULT_BUDGET,
    BenchmarkSpec,
    LeaderboardConfig,
    bootstrap_ci,
    run_leaderboard,
    summarize,
)
from nasrepro.spaces import SearchSpace
from nasrepro.strategies import Reinforce

#: The rates swept by default: NAS-Bench-201's grid (0.01, 0.02, 0.1, 0.2, 0.5), its
#: usage example 0.001, and 0.003 and 0.05 to fill the gaps.
LEARNING_RATES = (0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
BASELINE = "random-search"


def _class_name(lr: float) -> str:
    return "ReinforceLr" + f"{lr:g}".replace(".", "p").replace("-", "m")


def _variant(lr: float) -> type[Reinforce]:
    """A REINFORCE subclass whose only change is the default learning rate ``lr``."""

    def __init__(
        self: Reinforce, space: SearchSpace[Any], *, max_epoch: int, seed: int | None = None
    ) -> None:
        Reinforce.__init__(self, space, max_epoch=max_epoch, seed=seed, learning_rate=lr)

    name = _class_name(lr)
    return type(
        name, (Reinforce,), {"__init__": __init__, "__module__": __name__, "__qualname__": name}
    )


# One module-level class per rate, where a ``file.py:Class`` spec finds it (the
# leaderboard imports its own copy of this file).
for _lr in LEARNING_RATES:
    globals()[_class_name(_lr)] = _variant(_lr)


def _fmt_row(label: str, stats: dict[str, Any], diff: str) -> str:
    s = stats["summary"]
    auc = np.nanmean(np.asarray(stats["curves"], dtype=np.float64), axis=1)  # per seed
    lo, hi = bootstrap_ci(auc)
    final = f"{s['mean']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}]"
    auc_ci = f"{s['auc']:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{label:<16}{final:>24}{s['median']:>8.3f}{auc_ci:>24}{s['evaluations']:>7.1f}  {diff}"


def sweep(
    spec: BenchmarkSpec,
    lrs: tuple[float, ...],
    seeds: int,
    budget: str,
    jobs: int,
    first_seed: int = 0,
) -> list[str]:
    """Run the sweep on seeds ``first_seed .. first_seed + seeds - 1``; returns the report's lines."""
    path = Path(__file__).resolve()
    specs = {f"{path}:{_class_name(lr)}": lr for lr in lrs}
    config = LeaderboardConfig(
        spec, (BASELINE, *specs), tuple(range(first_seed, first_seed + seeds)), budget, 1, jobs
    )
    t0 = time.perf_counter()
    lb = run_leaderboard(config)
    wall = time.perf_counter() - t0
    stats = summarize(lb)["strategies"]
    base = np.array(stats[BASELINE]["final_regret"])
    lines = [
        f"REINFORCE learning-rate sweep on {lb.benchmark['name']} (optimum {lb.benchmark['optimum']:.2f}%),",
        f"budget {budget} = {lb.budget.value:.0f} simulated s, seeds {first_seed}-{first_seed + seeds - 1}, 1 worker, --jobs {jobs};",
        f"wall {wall:.1f} s on {platform.processor() or platform.machine()}"
        f" ({sum(r.wall_s for r in lb.runs[BASELINE]):.1f} s in the random-search runs,"
        f" {sum(r.wall_s for n in specs for r in lb.runs[n]):.1f} s in the REINFORCE runs).",
        "Regret in percent points of mean test accuracy; final regret: mean [95% Student-t CI];",
        "AUC: mean [95% bootstrap CI]; diff = REINFORCE - random search, paired by seed,",
        "mean [95% bootstrap CI]; wins = seeds where REINFORCE ends lower.",
        "",
        f"{'strategy':<16}{'final regret [95% CI]':>24}{'median':>8}{'AUC [95% CI]':>24}{'evals':>7}"
        "  final diff vs random [95% CI], wins",
        _fmt_row(BASELINE, stats[BASELINE], ""),
    ]
    for name, lr in specs.items():
        final = np.array(stats[name]["final_regret"])
        d = final - base
        lo, hi = bootstrap_ci(d)
        wins = int((final < base).sum())
        diff = f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}], {wins}/{seeds}"
        lines.append(_fmt_row(f"reinforce {lr:g}", stats[name], diff))
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", default=DEFAULT_BENCHMARK)
    ap.add_argument("--table", default=None, help="a table file instead of a registered benchmark")
    ap.add_argument("--lrs", default=",".join(f"{lr:g}" for lr in LEARNING_RATES))
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds FIRST .. FIRST+SEEDS-1")
    ap.add_argument("--budget", default=DEFAULT_BUDGET)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--out", type=Path, default=None, help="also append the command and the report here"
    )
    args = ap.parse_args(argv)
    lrs = tuple(float(x) for x in args.lrs.split(",") if x.strip())
    if not set(lrs) <= set(LEARNING_RATES):
        ap.error(f"--lrs must be among {LEARNING_RATES} (add others to LEARNING_RATES)")
    lines = sweep(
        BenchmarkSpec(args.benchmark, args.table),
        lrs,
        args.seeds,
        args.budget,
        args.jobs,
        args.first_seed,
    )
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/reinforce_lr_sweep.py " + " ".join(argv or sys.argv[1:])
        with args.out.open("a") as f:
            f.write(f"$ {command.strip()}\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

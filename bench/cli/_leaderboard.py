"""The ``nasrepro leaderboard`` and ``nasrepro validate`` commands.

Wired into the main CLI by ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from nasrepro.bench.cli._args import (
    add_cpu_isa,
    budget_text,
    check_budget_evaluations,
    device,
    int_at_least,
    seeds_count_or_list,
    strategies_text,
)
from nasrepro.bench.cli._outputs import check_dir, kept_runs_text, staged_dir
from nasrepro.spaces import ConfigError
from nasrepro.spaces._base import quote

__all__ = ["add_parser"]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


class _ProgressBar:
    """A tqdm bar over runs, opened at the first report (so errors print cleanly)."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            # started at ``done``: runs read back (or the first one) are not counted in
            # the rate, which would otherwise show thousands of runs per second
            self.bar = tqdm(
                total=total, initial=done, desc=self.desc, unit="run", file=sys.stderr, smoothing=0
            )
        self.bar.update(done - self.bar.n)  # redrawn at most every 0.1 s, so bursts of
        # runs finishing at once do not show as thousands of runs per second
        if done >= total:  # finished: a warning logged next starts on its own line
            self.bar.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _benchmark_spec(args: argparse.Namespace) -> Any:
    from nasrepro.bench.sim import DEFAULT_BENCHMARK, BenchmarkSpec

    seed_mode: str | int = args.seed_mode
    if isinstance(seed_mode, str) and seed_mode.lstrip("-").isdigit():
        seed_mode = int(seed_mode)
    if args.benchmark is not None and args.table is not None:  # one was silently ignored
        raise ConfigError(
            f"--benchmark {args.benchmark} and --table {args.table} both name what to run on; "
            "give one of them"
        )
    return BenchmarkSpec(args.benchmark or DEFAULT_BENCHMARK, args.table, seed_mode)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from nasrepro.bench.sim import (
        DEFAULT_BUDGET,
        QUICK_BUDGET,
        QUICK_SEEDS,
        LeaderboardConfig,
        open_benchmark,
        parse_budget,
        parse_seeds,
        run_leaderboard,
        strategies_arg,
        track,
        write_outputs,
    )
    from nasrepro.bench.sim._runstore import run_files
    from nasrepro.strategies import StrategyError

    out = check_dir(args.out, "--out")  # before the runs: a bad --out would lose them
    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else 30)
    budget = args.budget or (QUICK_BUDGET if args.quick else DEFAULT_BUDGET)
    spec = _benchmark_spec(args)
    bench = open_benchmark(spec)  # cached: the run opens it again for free
    parsed = parse_budget(budget, bench)
    check_budget_evaluations(
        budget,
        parsed.value if parsed.kind == "queries" else parsed.value / bench.typical_cost_s,
    )
    config = LeaderboardConfig(
        benchmark=spec,
        strategies=strategies_arg(args.strategies),
        seeds=parse_seeds(seeds),
        budget=budget,
        workers=args.workers,
        jobs=args.jobs,
        strategy_timeout=args.strategy_timeout,
    )
    t0 = time.perf_counter()
    bar = _ProgressBar("leaderboard")
    runs_dir = check_dir(out / "runs", "--out")
    try:
        lb = run_leaderboard(config, progress=bar, runs_dir=runs_dir, fresh=args.fresh)
    except StrategyError as e:  # the runs that finished are on disk: say so, and how to go on
        kept = len(run_files(runs_dir))
        raise StrategyError(
            f"{e.message}; {kept_runs_text(kept, f'in {runs_dir}')}", e.user_traceback
        ) from None
    finally:
        bar.close()
    empty = [f"{n} seed {r.seed}" for n, rs in lb.runs.items() for r in rs if not r.n_evaluations]
    if empty:  # a mean over the other seeds would hide them; the runs stay in runs_dir
        raise ConfigError(
            f"budget {quote(budget)} ended {len(empty)} of {len(lb.runs) * len(config.seeds)} "
            f"runs before their first result ({', '.join(empty[:3])}"
            f"{', ...' if len(empty) > 3 else ''}); raise --budget (e.g. 10x) and run again"
        )
    with staged_dir(out, "--out") as staging:
        staged = write_outputs(lb, staging)
    paths = {k: out / Path(p).relative_to(staging) for k, p in staged.items()}
    track(lb, paths, enabled=not args.no_track)
    _out(paths["markdown"].read_text())
    _out(f"wrote {', '.join(str(p) for p in paths.values())}")
    total = len(lb.runs) * len(config.seeds)
    reused = f" ({lb.reused} read back from {runs_dir})" if lb.reused else ""
    _out(f"took {time.perf_counter() - t0:.1f}s wall for {total} runs{reused}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from nasrepro.bench.sim._validate import validate

    given = [x for x in (args.strategy_pos, args.strategy) if x is not None]
    if len(given) != 1:
        raise ConfigError(
            "validate: name the strategy once, as STRATEGY or --strategy module:Class "
            f"(path/file.py:Class); got {'both' if given else 'neither'}"
        )
    args.strategy = given[0]
    if args.out is not None:
        check_dir(args.out, "--out")
    bar = _ProgressBar("validate")
    try:
        report = validate(
            args.strategy,
            _benchmark_spec(args),
            seeds=args.seeds,
            reference=args.reference,
            validate_top=args.validate_top,
            jobs=args.jobs,
            device=args.device,
            retrain=not args.no_retrain,
            out=args.out,
            track=not args.no_track,
            progress=bar,
            strategy_timeout=args.strategy_timeout,
        )
    finally:
        bar.close()
    _out(report.to_text())
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    from nasrepro.bench.sim import DEFAULT_BENCHMARK, default_jobs
    from nasrepro.tables import list_benchmarks

    p.add_argument(
        "--benchmark",
        default=None,
        help=f"registered benchmark name: {', '.join(list_benchmarks())} "
        f"(default {DEFAULT_BENCHMARK}, the shipped table)",
    )
    p.add_argument(
        "--table",
        default=None,
        metavar="NAME|PATH",
        help="run on this table instead: a shipped name (`nasrepro table list`) or a file",
    )
    p.add_argument(
        "--seed-mode",
        default="random",
        help="table seed per query: 'random' (default, as NAS-Bench-101), 'mean' or a seed",
    )
    p.add_argument(
        "--jobs",
        type=int_at_least(1, "jobs"),
        default=default_jobs(),
        help="parallel processes (default: cores)",
    )
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    from nasrepro.strategies import DEFAULT_STRATEGY_TIMEOUT_S

    p.add_argument(
        "--strategy-timeout",
        type=float,
        default=DEFAULT_STRATEGY_TIMEOUT_S,
        metavar="SECONDS",
        help="fail when one strategy call (import, construction, ask, tell) takes longer "
        f"(default {DEFAULT_STRATEGY_TIMEOUT_S:g}; 0: no limit)",
    )


def add_parser(sub: Any) -> None:
    """Add ``leaderboard`` and ``validate`` to the ``nasrepro`` subcommands."""
    from nasrepro.bench.cli._args import MAX_BUDGET_EVALUATIONS
    from nasrepro.bench.sim import DEFAULT_BUDGET
    from nasrepro.strategies import list_strategies

    p = sub.add_parser(
        "leaderboard",
        help="run strategies x seeds on a benchmark; write tables, plots and results.json",
    )
    _common(p)
    p.add_argument(
        "--strategies",
        type=strategies_text,
        default="all",
        help=f"'all' or comma-separated names ({', '.join(list_strategies())}) or "
        "module:Class / file.py:Class specs",
    )
    p.add_argument(
        "--seeds",
        type=seeds_count_or_list,
        default=None,
        help="number of seeds (default 30; 5 with --quick) or a list of distinct seeds",
    )
    p.add_argument(
        "--budget",
        type=budget_text,
        default=None,
        help=f"'3600s' simulated seconds, '200q' evaluations, or '100x' mean full trainings "
        f"(default {DEFAULT_BUDGET}; 20x with --quick; at most {MAX_BUDGET_EVALUATIONS}q "
        "or the same in x or seconds)",
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1, "workers"),
        default=1,
        help="simulated parallel workers (default 1)",
    )
    p.add_argument(
        "--out",
        default="leaderboard",
        help="output directory (default ./leaderboard); every finished run is kept in "
        "OUT/runs/ as it finishes, and a rerun reuses those of the same configuration",
    )
    p.add_argument("--fresh", action="store_true", help="run everything again, ignoring OUT/runs/")
    p.add_argument("--quick", action="store_true", help="5 seeds and a 20x budget: under a minute")
    p.set_defaults(func=_cmd_leaderboard, resumable=("out", "runs/*.json", "run"))

    p = sub.add_parser(
        "validate",
        help="compare your strategy (module:Class) with the shipped references, then "
        "retrain its incumbents for real",
    )
    _common(p)
    p.add_argument(
        "strategy_pos",
        nargs="?",
        default=None,
        metavar="STRATEGY",
        help="the same as --strategy",
    )
    p.add_argument("--strategy", default=None, help="module:Class or path/file.py:Class")
    p.add_argument(
        "--seeds",
        type=int_at_least(1, "seeds"),
        default=30,
        help="runs of your strategy (default 30), on the seeds after the reference's "
        "(100.. against a shipped one), so that the samples compared are independent",
    )
    p.add_argument(
        "--reference", default=None, help="reference results.json (default: the shipped one)"
    )
    p.add_argument(
        "--validate-top",
        type=int_at_least(0, "validate-top"),
        default=3,
        help="final incumbents to retrain (default 3)",
    )
    p.add_argument("--device", type=device, default="cpu", help="device for retraining")
    p.add_argument("--no-retrain", action="store_true", help="skip the real retraining")
    add_cpu_isa(p)
    p.add_argument("--out", default=None, help="also write validate.json here")
    p.set_defaults(func=_cmd_validate, resumable=("out", "runs/*.json", "run"))

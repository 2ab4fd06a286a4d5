"""Leaderboards: strategies x seeds on one benchmark, with statistics, plots and MLflow.

:func:`run_leaderboard` runs every (strategy, seed) pair on the simulated clock (in
parallel processes), :func:`summarize` turns the runs into per-strategy statistics
on a common grid, and :func:`write_outputs` writes ``leaderboard.md``,
``leaderboard.html``, ``regret.png``, ``ranks.png`` and ``results.json``.

Statistics, per strategy over seeds:

* final test regret: mean with a 95% percentile-bootstrap CI (2,000 resamples), and
  the median;
* area under the regret curve: the mean regret over a log-spaced time grid (or a
  query grid), from the first time every run has a result to the budget;
* average rank: strategies ranked per seed (runs with the same seed index are
  compared), ties sharing ranks, then averaged over seeds; at the budget in the
  table and at every grid point in ``ranks.png``.

Everything is a pure function of the seeds: the same arguments give the same
``results.json`` apart from its ``timing`` section.
"""

from __future__ import annotations

import concurrent.futures as cf
import html
import json
import logging
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.runner import Budget, RunResult, regret_on_grid, run
from nasrepro.bench.tracking import run_environment
from nasrepro.strategies import (
    DEFAULT_STRATEGY_TIMEOUT_S,
    StrategyGuard,
    list_strategies,
    load_strategy,
)
from nasrepro.tables import (
    Benchmark,
    Table,
    TableError,
    TabularBenchmark,
    default_table_path,
    get_benchmark,
)

__all__ = [
    "BenchmarkSpec",
    "LeaderboardConfig",
    "Leaderboard",
    "open_benchmark",
    "run_leaderboard",
    "summarize",
    "write_outputs",
    "bootstrap_ci",
    "DEFAULT_BENCHMARK",
    "DEFAULT_BUDGET",
    "QUICK_SEEDS",
    "QUICK_BUDGET",
]

logger = logging.getLogger(__name__)

DEFAULT_BENCHMARK = "cell-mnist1d-tiny"
#: The default budget: the simulated cost of 100 mean full trainings.
DEFAULT_BUDGET = "100x"
#: What ``--quick`` runs: few seeds and a short budget.
QUICK_SEEDS = 5
QUICK_BUDGET = "20x"
_GRID_POINTS = 50
_N_BOOT = 2000


@dataclass(frozen=True)
class BenchmarkSpec:
    """How to build a benchmark in any process: a registered name or a table file.

    Attributes:
        name: A name of :func:`~nasrepro.tables.list_benchmarks` (ignored with ``table``).
        table: Path of a table file; the benchmark is then named after the file.
        seed_mode: Passed to :class:`~nasrepro.tables.TabularBenchmark`.
    """

    name: str = DEFAULT_BENCHMARK
    table: str | None = None
    seed_mode: str | int = "random"

    @property
    def label(self) -> str:
        return Path(self.table).stem if self.table else self.name


def _load_plugins() -> None:
    """Import packages that register benchmarks (the surrogate benchmarks)."""
    try:
        import nasrepro.surrogate  # noqa: F401
    except ImportError as e:  # an optional layer; the table benchmarks work without it
        logger.debug("no surrogate benchmarks: %s", e)


def open_benchmark(spec: BenchmarkSpec) -> Benchmark:
    """Build the benchmark ``spec`` names.

    Raises:
        TableError: The table is missing or broken; for the default benchmark the
            message says to pass ``--table`` or build a table.
        ValueError: Unknown benchmark name.
    """
    if spec.table is not None:
        return TabularBenchmark(Table.open(spec.table), spec.seed_mode, name=spec.label)  # type: ignore[arg-type]
    _load_plugins()
    try:
        return get_benchmark(spec.name, seed_mode=spec.seed_mode)
    except TableError as e:
        if spec.name == DEFAULT_BENCHMARK and default_table_path() is None:
            raise TableError(
                f"no default table shipped for benchmark {spec.name!r} in this install; pass "
                "--table PATH, or build one with `nasrepro sweep --space cell --protocol "
                "mnist1d-tiny --out DIR` and `nasrepro table build DIR -o table.h5`"
            ) from e
        raise


@dataclass(frozen=True)
class LeaderboardConfig:
    """What a leaderboard runs.

    Attributes:
        benchmark: The benchmark.
        strategies: Registry names or ``module:Class`` specs.
        seeds: Run seeds (each seeds the strategy and the benchmark's seed draws).
        budget: As :meth:`Budget.parse` reads it (``"100x"``, ``"3600s"``, ``"200q"``).
        workers: Simulated workers per run.
        jobs: Processes running seeds in parallel (1: in this process).
        strategy_timeout: Seconds one strategy call (import, construction, ``ask``,
            ``tell``) may take before the run fails with a
            :class:`~nasrepro.strategies.StrategyError`; ``0``: no limit.
    """

    benchmark: BenchmarkSpec = field(default_factory=BenchmarkSpec)
    strategies: tuple[str, ...] = ()
    seeds: tuple[int, ...] = tuple(range(30))
    budget: str = DEFAULT_BUDGET
    workers: int = 1
    jobs: int = 1
    strategy_timeout: float = DEFAULT_STRATEGY_TIMEOUT_S

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["strategies"], d["seeds"] = list(self.strategies), list(self.seeds)
        return d


@dataclass
class Leaderboard:
    """The runs of a leaderboard, by strategy, each list in seed order."""

    config: LeaderboardConfig
    benchmark: dict[str, Any]
    budget: Budget
    runs: dict[str, list[RunResult]]
    wall_s: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ running
_WORKER: dict[str, Any] = {}


def _init_worker(spec: BenchmarkSpec) -> None:
    """Per process: one BLAS thread (runs are processes already) and the benchmark."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        pass
    if _WORKER.get("spec") != spec:
        _WORKER["spec"], _WORKER["benchmark"] = spec, open_benchmark(spec)


def _run_one(
    spec: BenchmarkSpec,
    strategy: str,
    seed: int,
    budget: Budget,
    workers: int,
    timeout_s: float = DEFAULT_STRATEGY_TIMEOUT_S,
) -> RunResult:
    _init_worker(spec)
    bench: Benchmark = _WORKER["benchmark"]
    cls = load_strategy(strategy, timeout_s=timeout_s)
    guard = StrategyGuard(strategy, seed, timeout_s)
    s = guard.construct(cls, bench.space, max_epoch=bench.max_epoch, seed=seed)
    return run(s, bench, budget, workers=workers, seed=seed, name=strategy, guard=guard)


def benchmark_info(bench: Benchmark) -> dict[str, Any]:
    """What identifies a benchmark's numbers: name, optimum, and its table if any."""
    info: dict[str, Any] = {
        "name": bench.name,
        "space": bench.space.name,
        "max_epoch": bench.max_epoch,
        "optimum": bench.optimum,
        "typical_cost_s": bench.typical_cost_s,
    }
    table = getattr(bench, "table", None)
    if table is not None:
        shipped = default_table_path()
        path = Path(table.path)
        info.update(
            # the shipped table by package-relative name: its install path is local
            table=f"nasrepro.tables/data/{path.name}"
            if shipped is not None and path.resolve() == shipped.resolve()
            else str(path),
            protocol_id=table.protocol_id,
            metrics_sha256=str(table.attrs.get("metrics_sha256", "")),
            seed_mode=getattr(bench, "seed_mode", None),
        )
    return info


def run_leaderboard(
    config: LeaderboardConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Leaderboard:
    """Run every strategy of ``config`` for every seed.

    Args:
        config: What to run; empty ``strategies`` means every registered one.
        progress: Called as ``progress(done, total)`` after each run.

    Raises:
        TableError, ValueError: The benchmark or a strategy cannot be loaded.
        StrategyError: A strategy's code raised or hung (the remaining runs are cancelled).
    """
    t_start = time.perf_counter()
    bench = open_benchmark(config.benchmark)
    budget = Budget.parse(config.budget, bench.typical_cost_s)
    names = list(config.strategies) or list_strategies()
    skipped = {}
    timeout = config.strategy_timeout
    for name in list(names):
        cls = load_strategy(name, timeout_s=timeout)
        if not StrategyGuard(name, None, timeout).call("supports()", cls.supports, bench.space):
            skipped[name] = f"does not support the {bench.space.name!r} space"
            logger.warning("skipping %s: %s", name, skipped[name])
            names.remove(name)
    if not names:
        raise ValueError(f"no strategy supports the {bench.space.name!r} space: {skipped}")
    tasks = [(n, s) for n in names for s in config.seeds]
    results: dict[tuple[str, int], RunResult] = {}
    if config.jobs <= 1:
        _WORKER["spec"], _WORKER["benchmark"] = config.benchmark, bench
        for k, (n, s) in enumerate(tasks):
            results[n, s] = _run_one(config.benchmark, n, s, budget, config.workers, timeout)
            if progress:
                progress(k + 1, len(tasks))
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with cf.ProcessPoolExecutor(
            config.jobs, mp_context=ctx, initializer=_init_worker, initargs=(config.benchmark,)
        ) as pool:
            futures = {
                pool.submit(_run_one, config.benchmark, n, s, budget, config.workers, timeout): (
                    n,
                    s,
                )
                for n, s in tasks
            }
            try:
                for k, fut in enumerate(cf.as_completed(futures)):
                    results[futures[fut]] = fut.result()
                    if progress:
                        progress(k + 1, len(tasks))
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # a failed run ends the rest
                raise
    runs = {n: [results[n, s] for s in config.seeds] for n in names}
    return Leaderboard(
        config, benchmark_info(bench), budget, runs, time.perf_counter() - t_start, skipped
    )


# --------------------------------------------------------------- statistics
def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = _N_BOOT, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap ``1 - alpha`` CI of the mean of ``values`` ``(n,)``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def make_grid(runs: Iterable[RunResult], budget: Budget) -> tuple[np.ndarray, str]:
    """The common grid of the anytime curves, and its axis (``"time"`` or ``"queries"``).

    Time budgets: 50 log-spaced points from the first moment every run has a result
    to the budget. Query budgets: up to 50 log-spaced evaluation counts up to the budget.
    """
    if budget.kind == "queries":
        n = int(budget.value)
        grid = np.unique(np.round(np.logspace(0, math.log10(max(n, 1)), _GRID_POINTS)))
        return grid.astype(np.float64), "queries"
    firsts = [r.time[0] for r in runs if r.n_evaluations]
    t0 = min(max(firsts, default=budget.value), budget.value)
    return np.logspace(math.log10(t0), math.log10(budget.value), _GRID_POINTS), "time"


def summarize(lb: Leaderboard) -> dict[str, Any]:
    """Per-strategy statistics and curves on a common grid (JSON-ready).

    Returns:
        ``{"grid", "axis", "strategies": {name: {...}}, "ranks": {name: [...]}}``;
        each strategy holds ``final_regret`` (per seed), ``curves`` (seeds x grid),
        ``final_incumbent``, ``n_evaluations`` and a ``summary`` of ``mean``,
        ``ci_low``, ``ci_high``, ``median``, ``auc`` and ``rank``.
    """
    all_runs = [r for rs in lb.runs.values() for r in rs]
    grid, axis = make_grid(all_runs, lb.budget)
    names = list(lb.runs)
    curves = {
        n: np.stack([regret_on_grid(r, grid, axis) for r in rs]) for n, rs in lb.runs.items()
    }  # each (n_seeds, g)
    stacked = np.stack([curves[n] for n in names])  # (n_strategies, n_seeds, g)
    ranks = _ranks(stacked)  # (n_strategies, g)
    out: dict[str, Any] = {"grid": grid.tolist(), "axis": axis, "strategies": {}, "ranks": {}}
    for i, n in enumerate(names):
        final = np.array([r.final_regret for r in lb.runs[n]])
        lo, hi = bootstrap_ci(final)
        auc = np.nanmean(curves[n], axis=1)  # per seed, over the log-spaced grid
        out["strategies"][n] = {
            "seeds": [r.seed for r in lb.runs[n]],
            "final_regret": final.tolist(),
            "final_incumbent": [r.final_incumbent for r in lb.runs[n]],
            "n_evaluations": [r.n_evaluations for r in lb.runs[n]],
            "curves": np.round(curves[n], 6).tolist(),
            "summary": {
                "mean": float(np.nanmean(final)),
                "ci_low": lo,
                "ci_high": hi,
                "median": float(np.nanmedian(final)),
                "auc": float(np.nanmean(auc)),
                "rank": float(ranks[i, -1]),
                "evaluations": float(np.mean([r.n_evaluations for r in lb.runs[n]])),
            },
        }
        out["ranks"][n] = ranks[i].tolist()
    return out


def _ranks(stacked: np.ndarray) -> np.ndarray:
    """Mean rank over seeds, ``(n_strategies, g)``, of regrets ``(n_strategies, n_seeds, g)``.

    Lower regret ranks first; a run without a result yet ranks last; ties share the
    mean of their ranks.
    """
    from scipy.stats import rankdata

    filled = np.where(np.isnan(stacked), np.inf, stacked)
    return rankdata(filled, axis=0).mean(axis=1)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ outputs
def _table_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    rows = [(n, s["summary"]) for n, s in summary["strategies"].items()]
    return sorted(rows, key=lambda r: (r[1]["mean"], r[1]["rank"], r[0]))


def _header(lb: Leaderboard) -> str:
    b = lb.benchmark
    budget = f"{lb.budget} ({lb.config.budget})" if lb.budget.kind == "time" else str(lb.budget)
    return (
        f"benchmark {b['name']} (optimum {b['optimum']:.2f}% test accuracy), "
        f"budget {budget}, {lb.config.workers} worker(s), {len(lb.config.seeds)} seeds"
    )


def to_markdown(lb: Leaderboard, summary: dict[str, Any]) -> str:
    """The leaderboard as a markdown table, best mean final regret first."""
    lines = [
        f"# Leaderboard: {lb.benchmark['name']}",
        "",
        _header(lb) + ".",
        "Regret: optimum minus the incumbent's mean final test accuracy (percent points); "
        "the incumbent is the best validation accuracy seen.",
        "",
        "| # | strategy | final regret: mean [95% CI] | median | AUC | avg rank | evals |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for k, (n, s) in enumerate(_table_rows(summary), start=1):
        lines.append(
            f"| {k} | {n} | {s['mean']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] | "
            f"{s['median']:.3f} | {s['auc']:.3f} | {s['rank']:.2f} | {s['evaluations']:.0f} |"
        )
    for n, why in lb.skipped.items():
        lines.append(f"\nSkipped {n}: {why}.")
    return "\n".join(lines) + "\n"


def to_html(lb: Leaderboard, summary: dict[str, Any]) -> str:
    """The leaderboard as a standalone HTML page with the two plots."""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "strategy", "final regret mean", "95% CI", "median", "AUC", "avg rank")
    )
    body = "".join(
        f"<tr><td>{k}</td><td>{html.escape(n)}</td><td>{s['mean']:.3f}</td>"
        f"<td>[{s['ci_low']:.3f}, {s['ci_high']:.3f}]</td><td>{s['median']:.3f}</td>"
        f"<td>{s['auc']:.3f}</td><td>{s['rank']:.2f}</td></tr>"
        for k, (n, s) in enumerate(_table_rows(summary), start=1)
    )
    title = html.escape(f"Leaderboard: {lb.benchmark['name']}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "td:nth-child(2){text-align:left}</style></head><body>"
        f"<h1>{title}</h1><p>{html.escape(_header(lb))}</p>"
        f"<table><tr>{head}</tr>{body}</table>"
        "<p><img src='regret.png' alt='anytime regret'><img src='ranks.png' alt='ranks'></p>"
        "</body></html>\n"
    )


def plot(summary: dict[str, Any], out_dir: Path, title: str) -> tuple[Path, Path]:
    """Write ``regret.png`` (mean regret, 95% bootstrap band) and ``ranks.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nasrepro.tables._plot import log_x_125

    grid = np.asarray(summary["grid"])
    rng = np.random.default_rng(0)
    paths = []
    for kind in ("regret", "ranks"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for n, s in summary["strategies"].items():
            if kind == "ranks":
                ax.plot(grid, summary["ranks"][n], label=n)
                continue
            c = np.asarray(s["curves"], dtype=np.float64)  # (n_seeds, g)
            idx = rng.integers(0, len(c), (_N_BOOT // 4, len(c)))
            with np.errstate(all="ignore"):
                lo, hi = np.nanquantile(np.nanmean(c[idx], axis=1), [0.025, 0.975], axis=0)
                (line,) = ax.plot(grid, np.nanmean(c, axis=0), label=n)
            ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        log_x_125(ax)
        ax.set(
            xlabel="simulated training time (s)" if summary["axis"] == "time" else "evaluations",
            ylabel="test regret (% points)" if kind == "regret" else "average rank (1 = best)",
            title=title,
        )
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        paths.append(out_dir / f"{kind}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths[0], paths[1]


def results_dict(lb: Leaderboard, summary: dict[str, Any]) -> dict[str, Any]:
    """``results.json``: config, benchmark, budget, statistics, curves; timing apart."""
    return {
        "format": "nasrepro-leaderboard-1",
        "config": lb.config.to_dict(),
        "benchmark": lb.benchmark,
        "budget": {"kind": lb.budget.kind, "value": lb.budget.value, "text": lb.config.budget},
        "workers": lb.config.workers,
        "skipped": lb.skipped,
        "environment": run_environment(),
        **summary,
        "timing": {
            "wall_s": lb.wall_s,
            "strategies": {
                n: {
                    "wall_s": float(sum(r.wall_s for r in rs)),
                    "strategy_s": float(sum(r.strategy_s for r in rs)),
                    "simulated_s": float(sum(r.simulated_s for r in rs)),
                }
                for n, rs in lb.runs.items()
            },
        },
    }


def write_outputs(lb: Leaderboard, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the leaderboard files into ``out_dir`` (created); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(lb)
    paths = {
        "markdown": out / "leaderboard.md",
        "html": out / "leaderboard.html",
        "results": out / "results.json",
    }
    paths["markdown"].write_text(to_markdown(lb, summary))
    paths["html"].write_text(to_html(lb, summary))
    paths["results"].write_text(json.dumps(results_dict(lb, summary), indent=1) + "\n")
    paths["regret"], paths["ranks"] = plot(summary, out, lb.benchmark["name"])
    return paths


def track(lb: Leaderboard, paths: dict[str, Path], *, enabled: bool = True) -> str | None:
    """Log to MLflow: one parent run with the files, one child run per strategy.

    Returns:
        The parent run id, or ``None`` when tracking is off or failed.
    """
    from nasrepro.bench.tracking import mlflow_run

    results = json.loads(paths["results"].read_text())
    params = {
        "benchmark": lb.benchmark["name"],
        "budget": str(lb.budget),
        "budget_spec": lb.config.budget,
        "workers": lb.config.workers,
        "seeds": len(lb.config.seeds),
        "strategies": ",".join(lb.runs),
    }
    tags = {"kind": "leaderboard", **{k: v for k, v in lb.benchmark.items() if k != "name"}}
    with mlflow_run(
        f"leaderboard-{lb.benchmark['name']}", params=params, tags=tags, enabled=enabled
    ) as parent:
        for p in paths.values():
            parent.log_artifact(p)
        for n, s in results["strategies"].items():
            with mlflow_run(
                n,
                params={**params, "strategy": n},
                tags={"kind": "leaderboard-strategy"},
                enabled=parent.active,
                nested=True,
            ) as child:
                child.log_metrics({f"final_regret_{k}": v for k, v in s["summary"].items()})
                mean = np.nanmean(np.asarray(s["curves"], dtype=np.float64), axis=0)
                for step, v in enumerate(mean.tolist()):
                    if math.isfinite(v):
                        child.log_metrics(
                            {"mean_regret": v, "rank": results["ranks"][n][step]}, step=step
                        )
        return parent.run_id


def strategies_arg(text: str) -> tuple[str, ...]:
    """``"all"`` (every registered strategy) or comma-separated names/specs."""
    if text.strip() in ("", "all"):
        return ()
    return tuple(s.strip() for s in text.split(",") if s.strip())


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def parse_seeds(n_or_list: str | int | Sequence[int]) -> tuple[int, ...]:
    """``30`` -> seeds 0..29; ``"3,5"`` -> (3, 5)."""
    if isinstance(n_or_list, int):
        return tuple(range(n_or_list))
    if isinstance(n_or_list, str):
        parts = [p for p in n_or_list.split(",") if p.strip()]
        if len(parts) == 1:
            return tuple(range(int(parts[0])))
        return tuple(int(p) for p in parts)
    return tuple(n_or_list)

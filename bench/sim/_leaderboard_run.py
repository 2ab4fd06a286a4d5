"""Leaderboards, running: strategies x seeds on one benchmark, with statistics, plots and MLflow.

:func:`run_leaderboard` runs every (strategy, seed) pair on the simulated clock (in
parallel processes), :func:`summarize` turns the runs into per-strategy statistics
on a common grid, and :func:`write_outputs` writes ``leaderboard.md``,
``leaderboard.html``, ``regret.png``, ``ranks.png`` and ``results.json``.

Statistics, per strategy over seeds:

* final test regret: mean with a 95% Student-t CI, and the median;
* pairwise: Welch's t-test on final regret for every pair of strategies, Holm-corrected
  over the pairs (which of them the seeds can tell apart);
* area under the regret curve: the mean regret over a log-spaced time grid (or a
  query grid), from the first time every run has a result to the budget;
* average rank: strategies ranked per seed (runs with the same seed index are
  compared), ties sharing ranks, then averaged over seeds; at the budget in the
  table and at every grid point in ``ranks.png``.

Everything is a pure function of the seeds: the same arguments give the same
``results.json`` apart from its ``timing`` section. That is what lets
:func:`run_leaderboard` keep every finished run in a run directory
(:mod:`~nasrepro.bench.sim._runstore`) and resume from it after a crash.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import logging
import multiprocessing
import numbers
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nasrepro.bench._children import die_with
from nasrepro.bench.sim._contract import check_contract, seed_note
from nasrepro.bench.sim._runner import Budget, RunResult, parse_budget, run
from nasrepro.bench.sim._runstore import RunStore, source_sha256
from nasrepro.spaces._errors import ConfigError, WorkerDiedError
from nasrepro.strategies import (
    DEFAULT_STRATEGY_TIMEOUT_S,
    StrategyGuard,
    list_strategies,
    load_strategy,
)
from nasrepro.tables import (
    Benchmark,
    TableError,
    TabularBenchmark,
    check_covers_space,
    default_table_path,
    get_benchmark,
    open_table,
)

__all__ = [
    "BenchmarkSpec",
    "as_spec",
    "LeaderboardConfig",
    "Leaderboard",
    "open_benchmark",
    "run_leaderboard",
    "benchmark_info",
    "strategies_arg",
    "default_jobs",
    "parse_seeds",
    "parse_budget",
    "cost_model_text",
    "NO_CURVES",
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


@dataclass(frozen=True)
class BenchmarkSpec:
    """How to build a benchmark in any process: a registered name or a table file.

    Attributes:
        name: A name of :func:`~nasrepro.tables.list_benchmarks` (ignored with ``table``).
        table: A shipped table name (``nasrepro table list``) or a table file; the
            benchmark is then named after it.
        seed_mode: Passed to :class:`~nasrepro.tables.TabularBenchmark`.
    """

    name: str = DEFAULT_BENCHMARK
    table: str | None = None
    seed_mode: str | int = "random"

    @property
    def label(self) -> str:
        return Path(self.table).stem if self.table else self.name


def as_spec(benchmark: BenchmarkSpec | str | os.PathLike[str] | Any) -> BenchmarkSpec:
    """A :class:`BenchmarkSpec` for a spec, a registered benchmark's name
    (:func:`~nasrepro.tables.list_benchmarks`), a shipped table's name or a table file,
    or a :class:`~nasrepro.tables.Table` opened from a file.

    Raises:
        ConfigError: Anything else (a benchmark object cannot travel to worker
            processes by itself: register it, :func:`~nasrepro.tables.register_benchmark`).
    """
    from nasrepro.tables import Table, list_benchmarks

    if isinstance(benchmark, BenchmarkSpec):
        return benchmark
    if isinstance(benchmark, str) and benchmark in list_benchmarks():
        return BenchmarkSpec(benchmark)
    if isinstance(benchmark, str | os.PathLike):
        return BenchmarkSpec(table=str(benchmark))
    if isinstance(benchmark, Table):
        return BenchmarkSpec(table=str(benchmark.path))
    raise ConfigError(
        f"benchmark {benchmark!r} ({type(benchmark).__name__}): expected a BenchmarkSpec, "
        "a benchmark or table name, or a table file; a benchmark object of your own runs "
        "in a leaderboard once registered (nasrepro.tables.register_benchmark)"
    )


def open_benchmark(spec: BenchmarkSpec | str) -> Benchmark:
    """Build the benchmark ``spec`` names.

    Raises:
        TableError: The table is missing or broken; for the default benchmark the
            message says to pass ``--table`` or build a table.
        ValueError: Unknown benchmark name.
    """
    spec = as_spec(spec)
    if spec.table is not None:
        table = open_table(spec.table)
        check_covers_space(table, hint_surrogate=True)
        return TabularBenchmark(table, spec.seed_mode, name=spec.label)  # type: ignore[arg-type]
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


#: Why a multi-fidelity strategy is not run on a benchmark without learning curves.
NO_CURVES = "n/a: the table has no learning curves"


def noise_text(bench: Benchmark) -> str:
    """The leaderboard header's statement of what a query reads: one seed's result
    (seed noise, which strategies must live with) or one value per architecture."""
    mode = getattr(bench, "seed_mode", None)
    table = getattr(bench, "table", None)
    if mode is None:
        return ""
    if table is not None:
        n = len(table.seeds)
        if n == 1:
            what = (
                "the source's one value per architecture"
                if table.kind == "imported"
                else f"the table's only seed ({table.seeds[0]})"
            )
            return f"queries read {what}: strategies see no seed noise"
        if mode == "mean":
            return f"queries read the mean of the table's {n} seeds: no seed noise"
        if mode == "random":
            return f"each query reads one of the table's {n} seeds at random (seed noise)"
        return f"queries read the table's seed {mode} only: no seed noise"
    if mode == "mean":
        return "queries read the predicted mean: no seed noise"
    if mode == "random":
        return "each query draws a training seed's result from the predicted seed noise"
    return f"queries read training seed {mode}'s predicted result only"


def cost_model_text(bench_info: dict[str, Any]) -> str:
    """The leaderboard header's statement of how evaluations are charged."""
    if bench_info.get("cost_model") == "per-training":
        return "cost model: one unit per full training (the table records no training times)"
    return "cost model: recorded training time in seconds"


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

    def __post_init__(self) -> None:
        # What the command line takes, taken here too: a benchmark or table by name,
        # "a,b" or "all" for strategies, a seed count, a Budget.
        set_ = functools.partial(object.__setattr__, self)
        set_("benchmark", as_spec(self.benchmark))
        if isinstance(self.strategies, str):
            set_("strategies", strategies_arg(self.strategies))
        try:
            set_("seeds", parse_seeds(self.seeds))
        except (TypeError, ValueError):
            raise ConfigError(
                f"seeds {self.seeds!r}: expected a count (30: seeds 0..29) or a sequence of "
                "seeds ((0, 1, 4))"
            ) from None
        if (
            isinstance(self.jobs, bool)
            or not isinstance(self.jobs, numbers.Integral)
            or self.jobs < 1
        ):
            raise ConfigError(f"jobs={self.jobs!r}: processes must be a whole number >= 1")
        if isinstance(self.budget, Budget):
            set_("budget", str(self.budget))
        elif isinstance(self.budget, numbers.Real) and not isinstance(self.budget, bool):
            set_("budget", repr(float(self.budget)))

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON; a table's benchmark is named after the table (``name``
        is ignored with ``table``, and showed the default benchmark's name)."""
        d = asdict(self)
        d["strategies"], d["seeds"] = list(self.strategies), list(self.seeds)
        d["benchmark"]["name"] = self.benchmark.label
        return d


@dataclass
class Leaderboard:
    """The runs of a leaderboard, by strategy, each list in seed order.

    :func:`~nasrepro.bench.sim.summarize` gives its statistics and
    :func:`~nasrepro.bench.sim.write_outputs` its report files.

    Attributes:
        config: What ran.
        benchmark: :func:`benchmark_info`: the optimum, cost model and provenance.
        budget: The budget in the clock's unit.
        runs: Strategy -> its :class:`~nasrepro.bench.sim.RunResult` per seed.
        wall_s: Wall seconds of the whole leaderboard.
        skipped: Strategy -> why it could not run here (listed n/a in the reports).
    """

    config: LeaderboardConfig
    benchmark: dict[str, Any]
    budget: Budget
    runs: dict[str, list[RunResult]]
    wall_s: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)
    #: Runs read back from the run directory instead of being run again.
    reused: int = 0
    #: What a query reads, and so whether strategies see seed noise (:func:`noise_text`).
    noise: str = ""
    #: Strategy -> a warning about its runs (a user's strategy whose every run asked the
    #: same first architectures seems to ignore its seed); shown in every report.
    notes: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------ running
_WORKER: dict[str, Any] = {}


def _init_worker(spec: BenchmarkSpec, parent: int | None = None) -> None:
    """Per process: one BLAS thread (runs are processes already) and the benchmark; a
    pool worker (``parent``: the leaderboard's PID) also dies with the leaderboard, so a
    killed leaderboard leaves no worker writing run files beside its resume."""
    if parent is not None:
        die_with(parent)
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
    store: RunStore | None = None,
    key: dict[str, Any] | None = None,
) -> RunResult:
    """One run; with ``store``, marked in progress while it runs and saved under ``key``."""
    _init_worker(spec)
    bench: Benchmark = _WORKER["benchmark"]
    if store is None:
        return _run_plain(bench, strategy, seed, budget, workers, timeout_s)
    with store.running(strategy, seed):
        result = _run_plain(bench, strategy, seed, budget, workers, timeout_s)
        if key is not None:
            try:
                store.save(key, result)
            except OSError as e:  # the run itself is fine; only its copy on disk is missing
                logger.warning(
                    "could not keep %s seed %d in %s: %s", strategy, seed, store.directory, e
                )
    return result


def _run_plain(
    bench: Benchmark, strategy: str, seed: int, budget: Budget, workers: int, timeout_s: float
) -> RunResult:
    cls = load_strategy(strategy, timeout_s=timeout_s)
    guard = StrategyGuard(strategy, seed, timeout_s)
    s = guard.construct(cls, bench.space, max_epoch=bench.max_epoch, seed=seed)
    return run(s, bench, budget, workers=workers, seed=seed, name=strategy, guard=guard)


def _code_sha256(strategy_cls: type, bench: Benchmark) -> str:
    """What a run's numbers depend on in code: the strategy, the runner, the benchmark,
    and the space (its ``sample``/``mutate`` decide what a strategy asks; a user's space
    may change between leaderboards without its table changing)."""
    space = type(bench.space)
    return source_sha256(strategy_cls, run, type(bench), space, space.arch_type)


def _died(
    busy: list[tuple[str, int]], persist: bool, runs_dir: Path | None, finished: int, total: int
) -> WorkerDiedError:
    where = (
        "while running "
        + ("one of: " if len(busy) > 1 else "")
        + ", ".join(f"{n} seed {s}" for n, s in busy)
        if busy
        else "while running an unknown run"
    )
    if persist and finished:
        kept = (
            f"; {finished} of {total} runs finished and are kept in {runs_dir}: run the same "
            "command again to resume"
        )
    elif persist:
        kept = f"; none of the {total} runs had finished"
    else:
        kept = f"; {finished} of {total} runs had finished (give a run directory to keep them)"
    return WorkerDiedError(
        f"a leaderboard worker process died without an error (killed, out of memory, or "
        f"the strategy's code ended the process) {where}{kept}; if it dies again, look in "
        "that strategy for os._exit, native code that crashes, or memory that grows "
        "(with --jobs 1 such an exit ends nasrepro itself, with that exit code)"
    )


def benchmark_info(bench: Benchmark) -> dict[str, Any]:
    """What identifies a benchmark's numbers: name, optimum, and its :meth:`~Benchmark.provenance`."""
    info: dict[str, Any] = {
        "name": bench.name,
        "space": bench.space.name,
        "max_epoch": bench.max_epoch,
        "optimum": bench.optimum,
        "typical_cost_s": bench.typical_cost_s,
    }
    info.update(bench.provenance())
    return info


def run_leaderboard(
    config: LeaderboardConfig,
    *,
    progress: Callable[[int, int], None] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    check_contracts: bool = True,
) -> Leaderboard:
    """Run every strategy of ``config`` for every seed.

    Args:
        config: What to run; empty ``strategies`` means every registered one.
        progress: Called as ``progress(done, total)`` after each run, and once before
            the first when runs were read back from ``runs_dir``.
        runs_dir: Keep every finished run there as it finishes, and reuse the runs
            found there whose configuration is the same (see
            :mod:`~nasrepro.bench.sim._runstore`): a killed or failed leaderboard
            resumes, and more seeds or strategies run only what is new.
        fresh: Run everything again, overwriting the runs in ``runs_dir``.
        check_contracts: Before a user's ``module:Class`` strategy runs, check its
            contract (:func:`~nasrepro.bench.sim._contract.check_contract`: the same
            seed asks the same trials, here and in a fresh process); after its runs, warn
            when every seed asked the same first trials.

    Raises:
        TableError, ValueError: The benchmark or a strategy cannot be loaded.
        StrategyContractError: A user's strategy broke the contract (before any run).
        StrategyError: A strategy's code raised or hung (the remaining runs are
            cancelled; the finished ones stay in ``runs_dir``).
        WorkerDiedError: A worker process died (``jobs > 1``); the message names the
            runs it was busy with.
    """
    t_start = time.perf_counter()
    bench = open_benchmark(config.benchmark)
    budget = parse_budget(config.budget, bench)
    names = list(config.strategies) or list_strategies()
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"strategies listed more than once: {', '.join(twice)}; list each strategy once (more "
            "runs of one strategy come from more seeds)"
        )
    skipped = {}
    timeout = config.strategy_timeout
    classes = {}
    for name in list(names):
        cls = classes[name] = load_strategy(name, timeout_s=timeout)
        if not StrategyGuard(name, None, timeout).call("supports()", cls.supports, bench.space):
            skipped[name] = f"does not support the {bench.space.name!r} space" + (
                " (it models the space's categorical decisions, and the space defines no "
                "decisions() view)"
                if getattr(cls, "needs_decisions", False) and bench.space.decisions() is None
                else ""
            )
        elif getattr(cls, "multi_fidelity", False) and not getattr(bench, "has_curves", True):
            skipped[name] = NO_CURVES
        if name in skipped:  # expected for n/a, a warning for an unsupported space
            log = logger.info if skipped[name] == NO_CURVES else logger.warning
            log("skipping %s: %s", name, skipped[name])
            names.remove(name)
    if not names:
        raise ConfigError(f"none of the strategies can run on {bench.name}: {skipped}")
    tasks = [(n, s) for n in names for s in config.seeds]
    info = benchmark_info(bench)
    with contextlib.ExitStack() as stack:
        persist = runs_dir is not None
        where = (
            Path(runs_dir)  # type: ignore[arg-type]
            if persist
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nasrepro-runs-")))
        )
        context = {
            "benchmark": info,
            "seed_mode": config.benchmark.seed_mode,
            "budget": {"kind": budget.kind, "value": budget.value},
        }
        model_sha256 = getattr(bench, "model_sha256", None)
        if model_sha256 is not None:  # a surrogate: a refit or another XGBoost runs again
            context["model_sha256"] = model_sha256()
        store = RunStore(where, context)
        store.clear_markers()
        code = {n: _code_sha256(classes[n], bench) for n in names}
        keys = {(n, s): store.key(n, s, config.workers, code[n]) for n, s in tasks}
        results: dict[tuple[str, int], RunResult] = {}
        if persist and not fresh:
            other = store.other_configuration(list(keys.values()))
            if other is not None:
                raise ConfigError(
                    f"{where} holds runs of another leaderboard configuration: {other}; "
                    "running would replace them. Give another runs directory (the CLI's "
                    "--out, or --runs of table compare), or --fresh to replace them"
                )
            for t in tasks:
                found = store.load(keys[t])
                if found is not None:
                    results[t] = found
        reused = len(results)
        todo = [t for t in tasks if t not in results]
        if check_contracts:
            for n in dict.fromkeys(n for n, _ in todo):
                if ":" in n:
                    check_contract(n, classes[n], bench, config.benchmark, timeout)
        if progress and reused:
            progress(reused, len(tasks))
        save = store if persist else None
        if config.jobs <= 1 or len(todo) <= 1:
            _WORKER["spec"], _WORKER["benchmark"] = config.benchmark, bench
            for t in todo:
                results[t] = _run_one(
                    config.benchmark, *t, budget, config.workers, timeout, save, keys[t]
                )
                if progress:
                    progress(len(results), len(tasks))
        else:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            n_proc = min(config.jobs, len(todo))  # --jobs 99999 for 5 runs: 5 processes
            if n_proc > (os.cpu_count() or 1):
                logger.warning(
                    "%d processes on %d CPU cores: runs are CPU-bound, so more processes "
                    "than cores only share the cores",
                    n_proc,
                    os.cpu_count() or 1,
                )
            with cf.ProcessPoolExecutor(
                n_proc,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(config.benchmark, os.getpid()),
            ) as pool:
                futures = {
                    pool.submit(
                        _run_one,
                        config.benchmark,
                        *t,
                        budget,
                        config.workers,
                        timeout,
                        store,  # markers even without a run directory: they name a dead run
                        keys[t] if persist else None,
                    ): t
                    for t in todo
                }
                try:
                    for fut in cf.as_completed(futures):
                        results[futures[fut]] = fut.result()
                        if progress:
                            progress(len(results), len(tasks))
                except cf.process.BrokenProcessPool:
                    busy = store.in_progress()  # before the other workers end theirs
                    pool.shutdown(wait=True, cancel_futures=True)
                    for t in todo:  # a worker ended mid-write leaves its temporary file
                        store.remove_temporaries(*t)
                    # the workers still running when the pool broke may have saved theirs
                    kept = sum(
                        t in results or (persist and store.load(keys[t]) is not None) for t in tasks
                    )
                    raise _died(
                        busy, persist, where if persist else None, kept, len(tasks)
                    ) from None
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # a failed run ends the rest
                    raise
    runs = {n: [results[n, s] for s in config.seeds] for n in names}
    notes = {}
    if check_contracts:
        for n in names:
            note = seed_note(runs[n]) if ":" in n else ""
            if note:
                notes[n] = note
                logger.warning("%s: %s", n, note)
    wall = time.perf_counter() - t_start
    return Leaderboard(config, info, budget, runs, wall, skipped, reused, noise_text(bench), notes)


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

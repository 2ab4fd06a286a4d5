"""The simulator (no torch import): the simulated-clock runner, leaderboards (run, statistics,
reports) and ``validate``.

``validate`` retrains incumbents through :mod:`nasrepro.bench.harness`, imported only
when it does.
"""

from __future__ import annotations

from nasrepro.bench.sim._compare import (
    StrategyComparison,
    StrategyResult,
    compare_strategies,
    query_budget,
)
from nasrepro.bench.sim._leaderboard_report import (
    plot,
    results_dict,
    to_html,
    to_markdown,
    track,
    write_outputs,
)
from nasrepro.bench.sim._leaderboard_run import (
    DEFAULT_BENCHMARK,
    DEFAULT_BUDGET,
    NO_CURVES,
    QUICK_BUDGET,
    QUICK_SEEDS,
    BenchmarkSpec,
    Leaderboard,
    LeaderboardConfig,
    as_spec,
    benchmark_info,
    cost_model_text,
    default_jobs,
    open_benchmark,
    parse_budget,
    parse_seeds,
    run_leaderboard,
    strategies_arg,
)
from nasrepro.bench.sim._leaderboard_stats import (
    bootstrap_ci,
    holm,
    make_grid,
    mean_ci,
    pairwise_tests,
    regret_at,
    regrets_at,
    summarize,
)
from nasrepro.bench.sim._runner import (
    Budget,
    RunResult,
    regret_on_grid,
    run,
)
from nasrepro.bench.sim._validate import (
    Comparison,
    ValidateReport,
    load_reference,
    reference_path,
    validate,
)

__all__ = [
    "Budget",
    "RunResult",
    "run",
    "regret_on_grid",
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
    "bootstrap_ci",
    "mean_ci",
    "holm",
    "pairwise_tests",
    "make_grid",
    "summarize",
    "regret_at",
    "regrets_at",
    "to_markdown",
    "to_html",
    "plot",
    "results_dict",
    "write_outputs",
    "track",
    "validate",
    "load_reference",
    "reference_path",
    "ValidateReport",
    "Comparison",
    "compare_strategies",
    "StrategyComparison",
    "StrategyResult",
    "query_budget",
]

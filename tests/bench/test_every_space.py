"""Every strategy runs on every space (issue 25): REINFORCE and BOHB on chain and hierarchical."""

from __future__ import annotations

import pytest

from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard
from nasrepro.spaces import get_space
from nasrepro.strategies import list_strategies, load_strategy


@pytest.mark.parametrize("space", ["cell", "chain", "hierarchical"])
def test_every_registered_strategy_supports_every_space(space: str) -> None:
    sp = get_space(space)
    assert [s for s in list_strategies() if not load_strategy(s).supports(sp)] == []


@pytest.mark.parametrize(
    "bench", ["chain-mnist1d-tiny-surrogate", "hierarchical-mnist1d-tiny-surrogate"]
)
def test_reinforce_and_bohb_run_on_the_surrogate_benchmarks(bench: str) -> None:
    cfg = LeaderboardConfig(
        benchmark=BenchmarkSpec(bench), strategies=("reinforce", "bohb"), seeds=(0,), budget="40q"
    )
    lb = run_leaderboard(cfg)
    assert lb.skipped == {}
    space = get_space(bench.split("-")[0])
    for name in ("reinforce", "bohb"):
        (run,) = lb.runs[name]
        assert run.n_evaluations > 0
        assert space.parse(run.final_incumbent).to_string() == run.final_incumbent

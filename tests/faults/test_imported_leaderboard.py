"""Leaderboards, validate and reproduce on an imported table (no times, no curves, no protocol)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nasrepro.bench.sim import (
    NO_CURVES,
    BenchmarkSpec,
    LeaderboardConfig,
    run_leaderboard,
    summarize,
)
from nasrepro.spaces import ConfigError
from nasrepro.tables import open_table


def _lb(tmp_path: Path, *flags: str) -> list[str]:
    return ["leaderboard", "--table", "nb201-cifar10", "--no-track", "--jobs", "1",
            "--out", str(tmp_path / "lb"), *flags]  # fmt: skip


def test_leaderboard_on_nb201_states_cost_model_and_test_accuracy(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    r = cli(
        *_lb(tmp_path, "--strategies", "random-search,hyperband", "--seeds", "3", "--budget", "10q")
    )
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "cost model: one unit per full training (the table records no training times)" in md
    assert "queries read the source's one value per architecture: strategies see no seed" in md
    assert "test acc (cifar10_ori_test) mean ± std" in md
    assert f"| – | hyperband | {NO_CURVES} |" in md
    res = json.loads((tmp_path / "lb" / "results.json").read_text())
    assert res["skipped"] == {"hyperband": NO_CURVES}
    assert res["benchmark"]["cost_model"] == "per-training"
    assert res["benchmark"]["report_metric"] == "cifar10_ori_test"
    s = res["strategies"]["random-search"]
    test = res["benchmark"]["optimum"] - np.asarray(s["final_regret"])
    assert s["summary"]["test_mean"] == pytest.approx(test.mean())
    assert s["summary"]["test_std"] == pytest.approx(test.std(ddof=1))
    t = open_table("nb201-cifar10")  # the incumbents' accuracy is the table's report metric
    assert t.query(s["final_incumbent"][0]).test_acc == pytest.approx(test[0])
    assert s["n_evaluations"] == [10, 10, 10]


def test_the_header_says_what_a_query_reads() -> None:
    """Whether strategies see seed noise decides how far a table's verdicts carry."""
    from nasrepro.bench.sim._leaderboard_run import noise_text
    from nasrepro.tables import TabularBenchmark, load_default

    t = load_default()
    assert noise_text(TabularBenchmark(t)) == (
        "each query reads one of the table's 3 seeds at random (seed noise)"
    )
    assert noise_text(TabularBenchmark(t, "mean")) == (
        "queries read the mean of the table's 3 seeds: no seed noise"
    )
    assert (
        noise_text(TabularBenchmark(t, 1)) == "queries read the table's seed 1 only: no seed noise"
    )
    nb = TabularBenchmark(open_table("nb201-cifar100"))
    assert noise_text(nb).startswith("queries read the source's one value per architecture")


def test_seconds_budget_is_refused_with_the_fix(cli: Callable[..., object], tmp_path: Path) -> None:
    cli(*_lb(tmp_path, "--budget", "3600s", "--strategies", "random-search")).assert_user_error(  # type: ignore[attr-defined]
        "records no training times", "'100q'"
    )
    assert not (tmp_path / "lb" / "results.json").exists()
    r = cli(*_lb(tmp_path, "--budget", "5x", "--strategies", "random-search", "--seeds", "2"))
    assert r.rc == 0 and "budget 5 full trainings (5x)" in r.out  # type: ignore[attr-defined]


def test_only_multi_fidelity_strategies_is_an_error() -> None:
    config = LeaderboardConfig(
        BenchmarkSpec(table="nb201-cifar10"), ("hyperband", "bohb"), (0,), "10q"
    )
    with pytest.raises(ConfigError, match="none of the strategies can run on nb201-cifar10"):
        run_leaderboard(config)


def test_multi_fidelity_still_runs_where_there_are_curves(smoke_table_path: Path) -> None:
    config = LeaderboardConfig(
        BenchmarkSpec(table=str(smoke_table_path)), ("successive-halving",), (0, 1), "10q"
    )
    lb = run_leaderboard(config)
    assert lb.skipped == {} and len(lb.runs["successive-halving"]) == 2
    s = summarize(lb)["strategies"]["successive-halving"]["summary"]
    assert np.isfinite(s["test_mean"]) and s["test_std"] >= 0


def test_validate_on_nb201_skips_retraining(cli: Callable[..., object], tmp_path: Path) -> None:
    assert (
        cli(*_lb(tmp_path, "--strategies", "random-search", "--seeds", "4", "--budget", "10q")).rc
        == 0
    )  # type: ignore[attr-defined]
    r = cli(
        "validate", "--table", "nb201-cifar10", "--strategy", "examples/my_strategy.py:TopKMutation",
        "--seeds", "3", "--reference", str(tmp_path / "lb" / "results.json"), "--no-track",
        "--jobs", "1",
    )  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert "final incumbents' cifar10_ori_test:" in r.out  # type: ignore[attr-defined]
    assert "has no training protocol to retrain under; skipped" in r.out  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120"])
def test_validate_finds_the_shipped_nb201_reference(cli: Callable[..., object], name: str) -> None:
    """Each shipped NB201 table has a 100-seed reference made with the per-cell runner."""
    from nasrepro.bench.sim import load_reference

    ref = load_reference(name)
    assert len(ref["config"]["seeds"]) == 100
    assert ref["benchmark"]["cost_model"] == "per-training"
    r = cli(
        "validate", "--table", name, "--strategy", "examples/my_strategy.py:TopKMutation",
        "--seeds", "3", "--no-retrain", "--no-track", "--jobs", "1",
    )  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert "among the references" in r.out  # type: ignore[attr-defined]
    for strategy in ("random-search", "bananas", "regularized-evolution"):
        assert strategy in r.out  # type: ignore[attr-defined]


def test_reproduce_on_an_imported_table_is_one_line(cli: Callable[..., object]) -> None:
    arch = open_table("nb201-cifar10").archs[0]
    cli("reproduce", arch, "--table", "nb201-cifar10", "--seed", "0").assert_user_error(  # type: ignore[attr-defined]
        "imported from NAS-Bench-201", "no nasrepro training protocol"
    )


def test_per_cell_incumbent_is_scored_on_its_own_cell() -> None:
    """On NB201, isomorphic cells have their own values: regret uses the cell told."""
    from nasrepro.bench.sim import Budget, run
    from nasrepro.strategies import RandomSearch
    from nasrepro.tables import TabularBenchmark

    t = open_table("nb201-cifar10")
    bench = TabularBenchmark(t)
    s = RandomSearch(bench.space, max_epoch=bench.max_epoch, seed=3)
    r = run(s, bench, Budget.parse("200q"), seed=3)
    for arch, inc, reg in zip(r.archs, r.incumbents, r.regret, strict=True):
        assert t.query(arch).arch == arch  # each result is recorded as the cell itself
        assert reg == pytest.approx(bench.optimum - t.query(inc).test_acc)
    reps = {t.archs[int(t.canonical[t.rows([a])[0]])] for a in r.archs}
    assert reps != set(r.archs)  # some told cells are not their class representative

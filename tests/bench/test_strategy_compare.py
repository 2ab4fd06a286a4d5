"""``compare_strategies``: the same leaderboard on two tables, and the agreement of the
strategy orders (2 strategies x 3 seeds x 10 queries), recomputed here from the
leaderboards themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from nasrepro.bench.cli import main
from nasrepro.bench.sim import (
    BenchmarkSpec,
    LeaderboardConfig,
    StrategyComparison,
    compare_strategies,
    run_leaderboard,
    summarize,
)
from nasrepro.bench.sim._compare import tau_b_columns
from nasrepro.tables import ConfigError, Table

STRATEGIES = ("random-search", "reinforce")
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def smoke_dir(smoke_table_path: Path) -> str:
    """The smoke table's runs folder: its stem, its metrics digest (a table file's stem
    is not unique), the budget."""
    from nasrepro.tables import Table

    return f"cell-mnist1d-smoke-{Table.open(smoke_table_path).attrs['metrics_sha256'][:8]}"


@pytest.fixture(scope="module")
def specs(smoke_table_path: Path) -> tuple[BenchmarkSpec, BenchmarkSpec]:
    return BenchmarkSpec(table=str(smoke_table_path)), BenchmarkSpec("nb201-cifar10")


@pytest.fixture(scope="module")
def comparison(specs: tuple[BenchmarkSpec, BenchmarkSpec]) -> StrategyComparison:
    a, b = specs
    return compare_strategies(
        a, b, strategies=(*STRATEGIES, "hyperband"), seeds=SEEDS, budget="10q", n_boot=500
    )


def test_orders_and_tau_match_the_leaderboards(
    specs: tuple[BenchmarkSpec, BenchmarkSpec], comparison: StrategyComparison
) -> None:
    c = comparison
    assert set(c.strategies) == set(STRATEGIES)
    assert c.excluded == {
        "hyperband": "multi-fidelity; nb201-cifar10 has no learning curves (one epoch)"
    }
    means = []
    for spec, res in zip(specs, (c.results_a, c.results_b), strict=True):
        lb = run_leaderboard(LeaderboardConfig(spec, STRATEGIES, SEEDS, "10q"))
        s = summarize(lb)["strategies"]
        m = [s[n]["summary"]["mean"] for n in STRATEGIES]
        assert [res[n].mean for n in STRATEGIES] == pytest.approx(m)
        assert [res[n].rank for n in STRATEGIES] == [1 + sum(x < y for x in m) for y in m]
        finals = np.array([s[n]["final_regret"] for n in STRATEGIES])  # (2, 3)
        means.append((m, finals))
    (ma, fa), (mb, fb) = means
    assert c.kendall_tau == pytest.approx(kendalltau(ma, mb).statistic, nan_ok=True)
    # the CI: resample seed indices (one draw for all), scipy's tau per resample
    idx = np.random.default_rng(0).integers(0, len(SEEDS), (500, len(SEEDS)))
    taus = [kendalltau(fa[:, i].mean(axis=1), fb[:, i].mean(axis=1)).statistic for i in idx]
    want = np.nanquantile(taus, [0.025, 0.975])
    assert c.tau_ci == pytest.approx(tuple(want))
    assert c.benchmark_b["cost_model"] == "per-training"
    assert c.budget == "10q"


def test_tau_b_columns_is_scipy_tau_b_with_ties() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (6, 200)).astype(float)
    y = rng.integers(0, 3, (6, 200)).astype(float)
    x[:, 0] = 1.0  # a constant column: NaN, as scipy gives
    got = tau_b_columns(x, y)
    want = np.array([kendalltau(x[:, k], y[:, k]).statistic for k in range(200)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.isnan(got[0])


def test_bootstrap_ci_resamples_seeds_jointly() -> None:
    """5 strategies x 8 seeds of regrets: the CI is the 2.5/97.5% quantile of scipy's
    tau over resamples that draw the same seed indices for both benchmarks."""
    from nasrepro.bench.sim._compare import _bootstrap_tau

    rng = np.random.default_rng(1)
    fa = rng.gamma(2.0, 1.0, (5, 8)) + np.arange(5)[:, None] * 0.5
    fb = rng.gamma(2.0, 1.0, (5, 8)) + np.arange(5)[:, None] * 0.3
    idx = np.random.default_rng(7).integers(0, 8, (300, 8))
    taus = [kendalltau(fa[:, i].mean(axis=1), fb[:, i].mean(axis=1)).statistic for i in idx]
    lo, hi = _bootstrap_tau(fa, fb, 300, 7)
    assert (lo, hi) == pytest.approx(tuple(np.quantile(taus, [0.025, 0.975])))
    assert -1 <= lo < hi <= 1


def test_only_a_query_budget(specs: tuple[BenchmarkSpec, BenchmarkSpec]) -> None:
    for budget in ("100x", "3600s", "many"):
        with pytest.raises(ConfigError, match="needs a query budget"):
            compare_strategies(*specs, strategies=STRATEGIES, seeds=SEEDS, budget=budget)
    with pytest.raises(ConfigError, match="no strategy left"):
        compare_strategies(*specs, strategies=("hyperband", "bohb"), seeds=SEEDS, budget="10q")


def test_runs_are_kept_and_a_rerun_goes_on_from_them(
    specs: tuple[BenchmarkSpec, BenchmarkSpec], tmp_path: Path, smoke_dir: str
) -> None:
    """What a killed comparison leaves (some run files) is read back, not run again, and
    the comparison equals an uninterrupted one."""
    kw = dict(strategies=STRATEGIES, seeds=SEEDS, budget="10q", n_boot=200, runs_dir=tmp_path)
    first = compare_strategies(*specs, **kw)  # type: ignore[arg-type]
    dirs = [tmp_path / f"{smoke_dir}-10q", tmp_path / "nb201-cifar10-10q"]
    assert first.runs_dirs == tuple(map(str, dirs)) and first.reused == 0
    for d in dirs:
        assert sorted(p.name for p in d.glob("*.json")) == sorted(
            f"{n}-seed{s}.json" for n in STRATEGIES for s in SEEDS
        )
    (dirs[0] / "reinforce-seed1.json").unlink()  # as a kill in the first leaderboard
    for p in dirs[1].glob("*.json"):  # leaves them: B not started
        p.unlink()
    again = compare_strategies(*specs, **kw)  # type: ignore[arg-type]
    assert again == first and again.reused == 5
    assert (dirs[0] / "reinforce-seed1.json").is_file()
    assert compare_strategies(*specs, **kw).reused == 12  # type: ignore[arg-type]
    fresh = compare_strategies(*specs, **kw, fresh=True)  # type: ignore[arg-type]
    assert fresh == first and fresh.reused == 0


def test_two_tables_of_one_name_keep_their_runs_apart(
    smoke_table_path: Path, tmp_path: Path
) -> None:
    files = []
    for side in ("x", "y"):
        (tmp_path / side).mkdir()
        files.append(tmp_path / side / "t.h5")
        files[-1].write_bytes(smoke_table_path.read_bytes())
    c = compare_strategies(
        BenchmarkSpec(table=str(files[0])),
        BenchmarkSpec(table=str(files[1])),
        strategies=("random-search",),
        seeds=(0,),
        budget="5q",
        n_boot=10,
        runs_dir=tmp_path / "runs",
    )
    digest = Table.open(files[0]).attrs["metrics_sha256"][:8]  # copies: one folder name
    runs = tmp_path / "runs"
    assert c.runs_dirs == (str(runs / f"t-{digest}-5q-a"), str(runs / f"t-{digest}-5q-b"))
    assert [len(list(Path(d).glob("*.json"))) for d in c.runs_dirs] == [1, 1]


def test_cli_strategies(
    smoke_dir: str,
    smoke_table_path: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the runs go to ./compare-runs by default
    argv = [
        "table",
        "compare",
        str(smoke_table_path),
        "nb201-cifar10",
        "--strategies",
        ",".join((*STRATEGIES, "hyperband")),
        "--seeds",
        "3",
        "--budget",
        "10q",
        "--jobs",
        "1",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for word in (
        "Kendall tau-b",  # the tables
        "strategies  budget 10q",
        "excluded    hyperband: multi-fidelity; nb201-cifar10 has no learning curves",
        "Kendall tau-b of the two orders",
        "random-search",
        "reinforce",
    ):
        assert word in text, word
    assert main([*argv, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    s = got["strategies"]
    assert s["seeds"] == list(SEEDS) and set(s["strategies"]) == set(STRATEGIES)
    assert set(s["results_a"]) == set(STRATEGIES) and s["n_boot"] == 2000
    # the runs were kept in ./compare-runs, one folder per benchmark and budget, and the
    # --json rerun read them back instead of running them
    assert sorted(p.name for p in (tmp_path / "compare-runs").iterdir()) == [
        f"{smoke_dir}-10q",
        "nb201-cifar10-10q",
    ]
    assert s["reused"] == 12
    assert main([*argv, "--runs", str(tmp_path / "other")]) == 0
    assert "read back" not in capsys.readouterr().out
    assert main([*argv, "--fresh"]) == 0
    assert "read back" not in capsys.readouterr().out
    assert main(argv) == 0
    assert "took" in (line := capsys.readouterr().out.splitlines()[-1])
    assert line.endswith(
        f"12 runs read back from compare-runs/{smoke_dir}-10q and compare-runs/nb201-cifar10-10q"
    )


def test_another_table_of_the_same_file_name_gets_its_own_folder(
    smoke_table_path: Path, tmp_path: Path
) -> None:
    """Comparing a/t.h5, then another b/t.h5, against NB201 in one runs folder refused
    the second as "another leaderboard configuration": both kept runs in t-5q."""
    from nasrepro.tables import default_table_path

    files = []
    for side, src in (("a", smoke_table_path), ("b", default_table_path())):
        (tmp_path / side).mkdir()
        files.append(tmp_path / side / "t.h5")
        files[-1].write_bytes(Path(src).read_bytes())
    kw = dict(strategies=("random-search",), seeds=(0,), budget="5q", n_boot=10)
    dirs = set()
    for f in files:
        c = compare_strategies(
            BenchmarkSpec(table=str(f)),
            BenchmarkSpec("nb201-cifar10"),
            runs_dir=tmp_path / "runs",
            **kw,
        )  # type: ignore[arg-type]
        dirs.add(c.runs_dirs[0])
    assert len(dirs) == 2 and all(Path(d).name.startswith("t-") for d in dirs)

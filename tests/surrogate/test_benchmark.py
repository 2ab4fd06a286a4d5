"""SurrogateBenchmark implements the Benchmark protocol with seeded draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasrepro.surrogate import Surrogate, SurrogateBenchmark, SurrogateError, load_table
from nasrepro.tables import Benchmark, Table, get_benchmark, list_benchmarks


@pytest.fixture(scope="module")
def bench(chain_dir: object) -> SurrogateBenchmark:
    table = Table.open(chain_dir / "chain-train.h5")  # type: ignore[operator]
    s = Surrogate("xgb", random_state=0, n_estimators=30).fit(load_table(table))
    return SurrogateBenchmark(s, "chain", seed=0, n_optimum=200)


def test_is_a_benchmark(bench: SurrogateBenchmark) -> None:
    assert isinstance(bench, Benchmark)
    assert bench.max_epoch == 2 and bench.space.name == "chain"
    assert bench.typical_cost_s > 0


def test_draws_are_seeded_and_vary_with_the_seed(bench: SurrogateBenchmark) -> None:
    arch = "conv3x3@1.0|skip@0.5|mbconv_e6_k5@1.5"
    a, b = bench.query(arch, seed=3), bench.query(arch, seed=3)
    assert a == b and a.seed == 3 and a.epoch == 2 and a.arch == arch
    draws = np.array([bench.query(arch, seed=s).valid_acc for s in range(200)])
    mean = bench.model.predict([arch], "chain")
    assert draws.std() == pytest.approx(mean.valid_std[0], rel=0.25)
    assert draws.mean() == pytest.approx(mean.valid_acc[0], abs=3 * mean.valid_std[0] / 10 + 1e-9)
    r1 = bench.query(arch, rng=np.random.default_rng(0))
    r2 = bench.query(arch, rng=np.random.default_rng(0))
    assert r1 == r2 and r1.cost_s == pytest.approx(float(mean.cost_s[0]))
    assert bench.final_test_acc(arch) == pytest.approx(float(mean.test_acc[0]))


def test_seed_modes(bench: SurrogateBenchmark) -> None:
    arch = "conv3x3@1.0|skip@0.5"
    mean = SurrogateBenchmark(bench.model, "chain", "mean").query(arch)
    assert mean.seed is None
    assert mean.valid_acc == pytest.approx(float(bench.model.predict([arch], "chain").valid_acc[0]))
    fixed = SurrogateBenchmark(bench.model, "chain", 7).query(arch)
    assert fixed == bench.query(arch, seed=7)
    with pytest.raises(ValueError, match="seed_mode"):
        SurrogateBenchmark(bench.model, "chain", "median")


def test_partial_trainings(bench: SurrogateBenchmark) -> None:
    arch = "conv3x3@1.0|skip@0.5"
    early, full = bench.query(arch, epoch=1, seed=0), bench.query(arch, seed=0)
    assert early.epoch == 1 and full.epoch == 2
    frac = bench.model.metadata_["epoch_cost_fraction"]
    assert early.cost_s == pytest.approx(full.cost_s * frac[0] / frac[1])
    assert 0 < frac[0] < frac[1] == 1.0
    with pytest.raises(ValueError, match="outside 1..2"):
        bench.query(arch, epoch=3)


def test_optimum_is_at_least_the_best_of_its_sample(bench: SurrogateBenchmark) -> None:
    rng = np.random.default_rng(0)  # the benchmark's seed: the same 200 architectures
    archs = [bench.space.sample(rng) for _ in range(bench.n_optimum)]
    best = bench.model.predict(archs, "chain").test_acc.max()
    assert bench.optimum >= best


def test_registered_names() -> None:
    names = list_benchmarks()
    assert "chain-mnist1d-tiny-surrogate" in names
    assert "hierarchical-mnist1d-tiny-surrogate" in names


def test_registered_benchmark_without_shipped_model_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nasrepro.surrogate._surrogate as surrogate

    monkeypatch.setattr(surrogate, "shipped_path", lambda: tmp_path)  # an install without it
    with pytest.raises(SurrogateError, match="nasrepro surrogate fit"):
        get_benchmark("chain-mnist1d-tiny-surrogate")

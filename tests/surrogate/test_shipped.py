"""The shipped surrogate (issue 7): what it was fitted on, how well it predicts the
shipped held-out tables, and leaderboards on its two registered benchmarks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasrepro.bench.cli import main
from nasrepro.bench.sim import (
    BenchmarkSpec,
    LeaderboardConfig,
    run_leaderboard,
    summarize,
)
from nasrepro.surrogate import Surrogate, SurrogateError, load_shipped

# Floors a little under the figures measured when the surrogate was shipped (README,
# "Surrogate"); a refit that falls below them is a regression.
# measured 2026-12-06 (cell and hierarchical models of their own, cell 30%, 1,000
# hierarchical archs; 3-seed test sets): 0.859, 0.663, 0.785; 2026-12-07, with the 12
# hierarchical test archs isomorphic to a training one dropped too: 0.859, 0.663, 0.778
TAU_FLOOR = {"cell": 0.84, "chain": 0.63, "hierarchical": 0.75}
# MAE against the seed-noise MAE, measured: cell 2.64 vs 3.60, chain 5.16 vs 6.56,
# hierarchical 3.93 vs 3.99
MAE_OVER_SEED_NOISE = {"cell": 1.0, "chain": 1.0, "hierarchical": 1.05}


@pytest.fixture(scope="module")
def shipped() -> Surrogate:
    try:
        return load_shipped()
    except SurrogateError:
        pytest.skip("no surrogate is shipped in this checkout")


def test_shipped_surrogate_was_fitted_as_documented(shipped: Surrogate) -> None:
    from nasrepro.tables import get_protocol

    md = shipped.metadata_
    assert md["protocol_id"] == get_protocol("mnist1d-tiny").id
    assert md["spaces"] == ["cell", "chain", "hierarchical"]
    assert md["n_train_archs"]["chain"] == 500 and md["n_train_archs"]["hierarchical"] == 1000
    # 30% of the table's 6,466 classes; the other 70% are the cell test set
    assert md["n_train_archs"]["cell"] == 1940
    # chosen by benchmarks/surrogate_space_models.py; the chain stays on the joint models
    assert md["space_models"] == {"cell": ["cell"], "hierarchical": ["hierarchical"]}
    assert md["format_version"] == 3
    assert shipped.model == "xgb" and md["encoding"] == "graph"
    # its training classes (benchmarks/surrogate_train_classes.py): the 1,000
    # hierarchical strings are 947 networks up to relabelling
    classes = {sp: len(keys) for sp, keys in md["train_classes"].items()}
    assert classes == {"cell": 1940, "chain": 500, "hierarchical": 947}


def test_shipped_surrogate_meets_its_measured_accuracy(
    shipped: Surrogate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["surrogate", "eval", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out) == ["cell", "chain", "hierarchical"]
    for space, m in out.items():
        assert m["kendall_tau"] >= TAU_FLOOR[space], (space, m)
        assert m["kendall_tau"] <= m["noise_ceiling_tau"] + 0.05, (space, m)
        assert m["mae"] < MAE_OVER_SEED_NOISE[space] * m["seed_noise_mae"], (space, m)
        # calibrated (benchmarks/calibrate_surrogate.py): measured 0.954, 0.931, 0.931
        assert 0.90 <= m["coverage_2sigma"] <= 0.97, (space, m)
    assert out["cell"]["n_test"] == 6466 - 1940
    # test architectures dropped as in the training data: the same string, or (only on
    # hierarchical) another string of the same network (benchmarks audit, finding 1)
    dropped = {sp: (m["n_dropped_trained"], m["n_dropped_isomorphs"]) for sp, m in out.items()}
    assert dropped == {"cell": (1940, 0), "chain": (1, 0), "hierarchical": (3, 12)}
    assert out["chain"]["n_test"] == 199 and out["hierarchical"]["n_test"] == 185


@pytest.mark.parametrize("space", ["chain", "hierarchical"])
def test_leaderboard_on_the_shipped_surrogate_benchmark(shipped: Surrogate, space: str) -> None:
    config = LeaderboardConfig(
        BenchmarkSpec(f"{space}-mnist1d-tiny-surrogate"),
        ("random-search", "regularized-evolution"),
        (0, 1),
        "10x",
    )
    a = summarize(run_leaderboard(config))
    if space == "chain":  # seeded draws and a fixed optimum: the same seeds, the same runs
        assert summarize(run_leaderboard(config))["strategies"] == a["strategies"]
    for st in a["strategies"].values():
        final = np.asarray(st["final_regret"])
        assert final.shape == (2,) and np.all(np.isfinite(final)) and np.all(final >= -1e-6)


def test_no_accuracy_above_100_and_the_default_seed_is_fixed(shipped: Surrogate) -> None:
    """The chain model's trees summed to 100.35% near the top of the space, so every
    regret carried 0.35 points that no draw (clipped at 100) could close; and a benchmark
    built without ``seed`` had another optimum in every process."""
    from nasrepro.spaces import get_space
    from nasrepro.surrogate import SurrogateBenchmark

    rng = np.random.default_rng(0)
    chain = get_space("chain")
    p = shipped.predict([chain.sample(rng) for _ in range(3000)], chain)
    for acc in (p.valid_acc, p.test_acc):
        assert acc.max() <= 100.0 and acc.min() >= 0.0
    a, b = SurrogateBenchmark(shipped, "chain"), SurrogateBenchmark(shipped, "chain")
    assert a.optimum == b.optimum <= 100.0
    assert a.typical_cost_s == b.typical_cost_s


def test_predict_refuses_one_architecture_where_a_sequence_goes(shipped: Surrogate) -> None:
    """A string was split into characters: "position 0: expected an op ...; found 'c'"."""
    with pytest.raises(SurrogateError, match=r"wrap it in a list: predict\(\[arch\], space\)"):
        shipped.predict("conv3x3@1.0|skip@0.5", "chain")

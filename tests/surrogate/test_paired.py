"""The paired bootstrap of :func:`nasrepro.surrogate.compare_evaluations`, on simulated
test sets whose answer is known, and ``nasrepro surrogate compare`` on real fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from nasrepro.bench.cli import main
from nasrepro.surrogate import (
    PAIRED_METRICS,
    SpaceEvaluation,
    SurrogateError,
    compare_evaluations,
)


def _ev(pred: np.ndarray, per_seed: np.ndarray, archs: list[str] | None = None) -> SpaceEvaluation:
    n = per_seed.shape[1]
    archs = archs if archs is not None else [f"a{i}" for i in range(n)]
    return SpaceEvaluation(
        "chain",
        {},
        tuple(archs),
        np.nanmean(per_seed, axis=0),
        np.asarray(pred, dtype=np.float64),
        np.ones(n),
        per_seed,
    )


def _test_set(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(80.0, 5.0, n)
    return truth, truth + rng.normal(0.0, 2.0, (3, n))  # three seeds of each network


def test_the_same_predictions_differ_by_nothing() -> None:
    truth, runs = _test_set()
    pred = truth + np.random.default_rng(1).normal(0.0, 3.0, len(truth))
    r = compare_evaluations(_ev(pred, runs), _ev(pred, runs), n_boot=200)
    for name in PAIRED_METRICS:
        m = r.metrics[name]
        assert m.diff == 0 and m.low == 0 and m.high == 0 and m.p == 1
    assert r.metrics["kendall_tau"].a == pytest.approx(
        kendalltau(pred, runs.mean(axis=0)).statistic
    )
    assert r.metrics["mae"].a == pytest.approx(np.abs(pred - runs).mean())


def test_a_better_model_is_told_apart_and_the_sign_says_which() -> None:
    truth, runs = _test_set()
    rng = np.random.default_rng(2)
    good, poor = truth + rng.normal(0.0, 1.0, len(truth)), truth + rng.normal(0.0, 6.0, len(truth))
    r = compare_evaluations(_ev(good, runs), _ev(poor, runs), n_boot=500)
    tau, mae = r.metrics["kendall_tau"], r.metrics["mae"]
    assert tau.diff > 0 and tau.low > 0 and tau.p < 0.01
    assert mae.diff < 0 and mae.high < 0 and mae.p < 0.01
    swapped = compare_evaluations(_ev(poor, runs), _ev(good, runs), n_boot=500)
    assert swapped.metrics["kendall_tau"].diff == pytest.approx(-tau.diff)


def test_pairing_sees_a_difference_the_two_standard_errors_hide() -> None:
    """Two models sharing most of their error on 400 networks: the paired interval
    excludes 0, while an unpaired one from the two models' own bootstrap standard errors
    (1.96 * sqrt(se_a^2 + se_b^2)) is wider than their difference (why it is built; 7 of
    8 simulation seeds show both, this is the first)."""
    truth, runs = _test_set(n=400, seed=3)
    rng = np.random.default_rng(4)
    shared = rng.normal(0.0, 3.0, len(truth))  # the test networks both models get wrong
    a = truth + shared + rng.normal(0.0, 0.3, len(truth))
    b = truth + shared + rng.normal(0.0, 1.5, len(truth))
    r = compare_evaluations(_ev(a, runs), _ev(b, runs), n_boot=1000)
    tau = r.metrics["kendall_tau"]
    assert tau.low > 0 and tau.p < 0.05  # told apart
    assert 1.96 * np.hypot(tau.se_a, tau.se_b) > tau.diff  # unpaired, they would not be
    mean = runs.mean(axis=0)
    draws = rng.integers(0, len(truth), (1000, len(truth)))
    own = np.std([kendalltau(a[i], mean[i]).statistic for i in draws])  # other resamples
    assert tau.se_a == pytest.approx(own, rel=0.15)


def test_only_the_networks_both_kept_are_compared() -> None:
    truth, runs = _test_set(n=50)
    pred = truth + 1.0
    archs = [f"a{i}" for i in range(50)]
    keep_b = [i for i in range(50) if i % 5]  # B was fitted on every fifth network
    b = _ev(pred[keep_b], runs[:, keep_b], [archs[i] for i in keep_b])
    r = compare_evaluations(_ev(pred, runs, archs), b, n_boot=100)
    assert (r.n_test, r.n_only_a, r.n_only_b) == (40, 10, 0)
    assert r.metrics["mae"].a == pytest.approx(np.abs(pred[keep_b] - runs[:, keep_b]).mean())
    json.dumps(r.to_dict())  # JSON-ready


def test_missing_seeds_are_left_out_of_the_mae() -> None:
    truth, runs = _test_set(n=30)
    runs[2, :10] = np.nan
    pred = truth
    r = compare_evaluations(_ev(pred, runs), _ev(pred + 1, runs), n_boot=100)
    ok = np.isfinite(runs)
    assert r.metrics["mae"].a == pytest.approx(np.abs(pred - runs)[ok].mean())


def test_mismatched_evaluations_are_refused() -> None:
    truth, runs = _test_set(n=20)
    a = _ev(truth, runs)
    other = SpaceEvaluation("cell", {}, a.archs, a.true_mean, a.pred_mean, a.pred_std, runs)
    with pytest.raises(SurrogateError, match="different spaces"):
        compare_evaluations(a, other)
    with pytest.raises(SurrogateError, match="different trained accuracies"):
        compare_evaluations(a, _ev(truth, runs + 1))
    with pytest.raises(SurrogateError, match="common to both"):
        compare_evaluations(a, _ev(truth[:2], runs[:, :2], ["x", "y"]))
    with pytest.raises(SurrogateError, match="at least 100"):
        compare_evaluations(a, a, n_boot=10)
    with pytest.raises(SurrogateError, match="between 0 and 1"):
        compare_evaluations(a, a, level=95)


@pytest.fixture(scope="module")
def two_fits(chain_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("pair")
    for name, n in (("a", "30"), ("b", "3")):
        argv = ["surrogate", "fit", "--table", str(chain_dir / "chain-train.h5")]
        assert main([*argv, "--param", f"n_estimators={n}", "--out", str(root / name)]) == 0
    return root / "a", root / "b"


def test_compare_cli(
    two_fits: tuple[Path, Path], chain_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = (str(p) for p in two_fits)
    test = str(chain_dir / "chain-test.h5")
    argv = ["surrogate", "compare", a, b, "--test", test, "--boot", "200"]
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["space"] == "chain" and doc["n_boot"] == 200
    assert sorted(doc["metrics"]) == sorted(PAIRED_METRICS)
    mae = doc["metrics"]["mae"]
    assert mae["diff"] == pytest.approx(mae["a"] - mae["b"])
    assert mae["low"] <= mae["diff"] <= mae["high"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"A = {a}, B = {b}" in text and "200 resamples" in text
    assert sum(line.split()[0] == "chain" for line in text.splitlines() if line.strip()) == 3


def test_compare_cli_refuses_slips(
    two_fits: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a = str(two_fits[0])
    for same in ([a, a], ["shipped", "shipped"], [a, str(Path(a).parent / "." / "a")]):
        assert main(["surrogate", "compare", *same]) == 2
        assert "the same surrogate" in capsys.readouterr().err
    assert main(["surrogate", "compare", a, "shipped", "--boot", "10"]) == 2
    assert "at least 100" in capsys.readouterr().err

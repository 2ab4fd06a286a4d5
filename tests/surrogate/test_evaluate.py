"""The noise ceiling of :func:`nasrepro.surrogate.evaluate`, checked by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from nasrepro.surrogate import noise_ceiling_tau


def _runs(n: int, k: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(80.0, 5.0, n)
    return truth, truth + rng.normal(0.0, noise, (k, n))


@pytest.mark.parametrize(("k", "noise"), [(2, 3.0), (3, 2.0), (3, 6.0)])
def test_ceiling_is_the_tau_of_the_truth_against_the_seed_mean(k: int, noise: float) -> None:
    truth, runs = _runs(3000, k, noise, seed=k)
    measured = kendalltau(truth, runs.mean(axis=0)).statistic
    assert noise_ceiling_tau(runs) == pytest.approx(measured, abs=0.02)
    assert noise_ceiling_tau(runs) > kendalltau(runs[0], runs[1]).statistic  # a mean beats a run


def test_ceiling_is_not_fooled_by_outliers_every_seed_agrees_on() -> None:
    """Dead cells sit at chance level under every seed. They inflate a Pearson-based
    estimate, but the rank-based one still tracks the measured ceiling."""
    truth, runs = _runs(3000, 3, 3.0, seed=7)
    truth[:150] = 10.0
    runs[:, :150] = 10.0 + np.random.default_rng(8).normal(0.0, 0.1, (3, 150))
    measured = kendalltau(truth, runs.mean(axis=0)).statistic
    assert noise_ceiling_tau(runs) == pytest.approx(measured, abs=0.03)


def test_ceiling_needs_two_seeds_that_agree() -> None:
    truth, runs = _runs(100, 2, 1.0, seed=0)
    assert noise_ceiling_tau(runs[:1]) is None
    x = np.random.default_rng(1).normal(size=500)
    assert noise_ceiling_tau(np.stack([x, -x])) is None  # seeds disagree: no ceiling
    runs[1, :50] = np.nan  # architectures missing a seed are dropped
    assert noise_ceiling_tau(runs) == noise_ceiling_tau(runs[:, 50:])

"""Calibrated single-run spread: the model-error std kappa, added in quadrature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasrepro.surrogate import Surrogate, calibrate, kappa_for_coverage, load_table
from nasrepro.tables import Table


def test_kappa_is_the_smallest_that_reaches_the_coverage() -> None:
    rng = np.random.default_rng(0)
    resid = rng.normal(0, 3.0, 2000)  # runs spread 3 around the prediction
    std = np.full(2000, 1.0)  # but the model claims 1
    k = kappa_for_coverage(resid, std, 0.95)
    cov = np.mean(np.abs(resid) <= 2 * np.hypot(std, k))
    assert 0.95 <= cov < 0.95 + 1 / 2000 + 1e-12
    assert np.mean(np.abs(resid) <= 2 * np.hypot(std, k * 0.999)) < 0.95
    assert k == pytest.approx(np.sqrt(3.0**2 - 1.0), rel=0.1)  # a Gaussian's missing spread
    assert kappa_for_coverage(resid, np.full(2000, 5.0), 0.95) == 0.0  # already wide enough


def test_calibrate_widens_a_surrogates_stds_per_space(chain_train: Table) -> None:
    data = load_table(chain_train)
    s = Surrogate("xgb", random_state=0, fidelities=False, n_estimators=20, learning_rate=0.3)
    s.fit(data)
    archs = list(chain_train.archs[:10])
    before = s.predict(archs, "chain")
    out = calibrate(s, data, folds=3)
    assert set(out) == {"chain"} and out["chain"]["valid_acc_oof_coverage_after"] >= 0.95
    kappa = s.metadata_["model_error_std"]["chain"]
    assert kappa["valid_acc"] > 0 and kappa["test_acc"] > 0
    after = s.predict(archs, "chain")
    np.testing.assert_array_equal(after.valid_acc, before.valid_acc)  # means unchanged
    np.testing.assert_allclose(after.valid_std, np.hypot(before.valid_std, kappa["valid_acc"]))
    np.testing.assert_allclose(after.test_std, np.hypot(before.test_std, kappa["test_acc"]))
    assert calibrate(s, data, folds=3) == out  # seeded folds: the same kappa again


def test_a_loaded_surrogate_calibrates_with_its_own_settings(
    chain_train: Table, tmp_path: Path
) -> None:
    """Calibration refits fold models: after save and load they take the recorded
    settings (here far from the defaults), so kappa is the same as before saving."""
    data = load_table(chain_train)
    settings = {"n_estimators": 15, "learning_rate": 0.3, "noise_estimators": 5}
    s = Surrogate("xgb", random_state=0, fidelities=False, **settings).fit(data)
    s.save(tmp_path / "s")
    loaded = Surrogate.load(tmp_path / "s")
    assert loaded._new().get_params()["n_estimators"] == 15
    assert loaded._new().get_params()["noise_estimators"] == 5
    assert calibrate(loaded, data, folds=3) == calibrate(s, data, folds=3)

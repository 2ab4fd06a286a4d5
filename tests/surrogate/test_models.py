"""Contract tests over every registered surrogate model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from nasrepro.surrogate import create_model, list_models, model_class, register_model
from nasrepro.surrogate._models import XGBSurrogate, seed_deviations


def _fast(name: str) -> object:
    return create_model(name, random_state=0, **model_class(name).fast_params)


@parametrize_with_checks([_fast(n) for n in list_models()])
def test_sklearn_contract(estimator: object, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-seed rows: 2 runs per point, mean sin(x0) + x1, noise std growing with x2."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 3, (n, 4))
    mean = np.sin(X[:, 0]) * 3 + X[:, 1]
    noise = 0.05 + 0.5 * (X[:, 2] > 1.5)
    Xr = np.repeat(X, 2, axis=0)
    y = np.repeat(mean, 2) + rng.normal(size=2 * n) * np.repeat(noise, 2)
    return Xr, y, noise


@pytest.mark.parametrize("name", list_models())
def test_fit_predict_dist_and_json_round_trip(name: str, tmp_path: Path) -> None:
    X, y, _ = _data()
    groups = np.arange(len(y)) % 7  # not the grouping by equal inputs: must be saved too
    model = _fast(name).fit(X, y, groups)
    mean, std = model.predict_dist(X[:50])
    assert mean.shape == std.shape == (50,)
    assert np.all(std >= 0) and np.all(np.isfinite(std))
    np.testing.assert_array_equal(model.predict(X[:50]), mean)
    files = model.save(tmp_path, "valid_acc")
    assert all(f.endswith((".json", ".json.gz")) for f in files)
    back = type(model).load(tmp_path, "valid_acc", model.get_params())
    for booster in (getattr(back, "mean_", None), getattr(back, "noise_", None)):
        if booster is not None:  # a loaded XGBoost model would use every core otherwise
            assert booster.get_params()["n_jobs"] == back.get_params()["n_jobs"]
    m2, s2 = back.predict_dist(X[:50])
    np.testing.assert_allclose(m2, mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s2, std, rtol=1e-6, atol=1e-6)


def test_xgb_noise_tracks_seed_noise() -> None:
    X, y, noise = _data(n=600)
    model = XGBSurrogate(n_estimators=200, random_state=0).fit(X, y)
    _, std = model.predict_dist(X[::2])
    low, high = std[noise < 0.1].mean(), std[noise > 0.1].mean()
    assert high > 3 * low, (low, high)
    assert 0.45 < high < 0.65 and 0.02 < low < 0.1, (low, high)  # true: 0.55 and 0.05


def test_seed_deviations_are_unbiased() -> None:
    rng = np.random.default_rng(0)
    k, n = 3, 4000
    y = np.repeat(rng.normal(size=n) * 10, k) + rng.normal(size=n * k) * 2.0
    rows, dev = seed_deviations(np.zeros((n * k, 1)), y, np.repeat(np.arange(n), k))
    assert len(rows) == n * k
    assert np.sqrt(np.mean(dev**2)) == pytest.approx(2.0, rel=0.03)
    rows, _ = seed_deviations(np.arange(6.0)[:, None], np.arange(6.0))  # one run each
    assert len(rows) == 0


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model("xgb")(XGBSurrogate)
    with pytest.raises(ValueError, match="unknown surrogate model"):
        create_model("nope")
    with pytest.raises(ValueError, match="takes no parameters \\['n_jobs'\\]"):
        create_model("gp", n_jobs=2)


def test_xgb_noise_with_one_run_per_architecture_is_not_collapsed() -> None:
    """Without repeated seeds the noise comes from out-of-fold residuals: an upper bound."""
    X, y, noise = _data(n=600)
    model = XGBSurrogate(random_state=0).fit(X[::2], y[::2])
    _, std = model.predict_dist(X[::2])
    assert std[noise > 0.1].mean() > 0.35  # true seed noise 0.55; in-sample residuals give 0.18
    assert std[noise > 0.1].mean() > 2 * std[noise < 0.1].mean()


def test_xgb_files_are_gzipped_xgboost_json_reproducible_and_format_1_still_loads(
    tmp_path: Path,
) -> None:
    import gzip
    import json

    X, y, _ = _data()
    model = XGBSurrogate(**XGBSurrogate.fast_params, random_state=0).fit(X, y)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    names = model.save(a, "valid_acc")
    assert names == ["valid_acc.mean.json.gz", "valid_acc.noise.json.gz"]
    assert model.save(b, "valid_acc") == names
    for name in names:  # the same fit writes the same bytes
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert "learner" in json.loads(gzip.decompress((a / name).read_bytes()))
    for name in names:  # format 1 wrote plain XGBoost JSON; it still loads
        (b / name.removesuffix(".gz")).write_bytes(gzip.decompress((b / name).read_bytes()))
        (b / name).unlink()
    back = XGBSurrogate.load(b, "valid_acc", model.get_params())
    np.testing.assert_array_equal(back.predict_dist(X)[1], model.predict_dist(X)[1])
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_the_noise_booster_can_have_its_own_size() -> None:
    from nasrepro.surrogate import XGBSurrogate

    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(40, 5)), 2, axis=0)  # two seeds per input
    y = X[:, 0] * 3 + rng.normal(size=80)
    m = XGBSurrogate(n_estimators=30, noise_estimators=7, noise_learning_rate=0.2).fit(X, y)
    assert m.mean_.get_booster().num_boosted_rounds() == 30
    assert m.noise_.get_booster().num_boosted_rounds() == 7
    assert m.noise_.get_params()["learning_rate"] == 0.2
    same = XGBSurrogate(n_estimators=30, noise_estimators=None, noise_learning_rate=None)
    same.fit(X, y)  # None: the mean booster's settings
    assert same.noise_.get_booster().num_boosted_rounds() == 30
    assert same.noise_.get_params()["learning_rate"] == same.learning_rate
    default = XGBSurrogate(n_estimators=30).fit(X, y)  # the defaults: 150 rounds at 0.1
    assert default.noise_.get_booster().num_boosted_rounds() == 150
    assert default.noise_.get_params()["learning_rate"] == 0.1

"""Model settings out of range are refused before a fit: ``surrogate fit --param
n_estimators=0`` wrote a surrogate that predicted 0.50 for every architecture."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrepro.bench.cli import main
from nasrepro.surrogate import NasreproError, Surrogate, create_model, list_models, model_class
from nasrepro.surrogate._models import check_model_params


@pytest.mark.parametrize(
    "model,key,value",
    [
        ("xgb", "n_estimators", 0),
        ("xgb", "n_estimators", -1),
        ("xgb", "max_depth", 0),
        ("xgb", "learning_rate", 0.0),
        ("xgb", "learning_rate", -0.1),
        ("xgb", "learning_rate", float("nan")),
        ("xgb", "learning_rate", float("inf")),
        ("xgb", "subsample", 0),
        ("xgb", "subsample", 1.5),
        ("xgb", "colsample_bytree", 0.0),
        ("xgb", "min_child_weight", -1.0),
        ("xgb", "reg_lambda", -1),
        ("xgb", "noise_estimators", 0),
        ("xgb", "noise_learning_rate", 0),
        ("xgb", "n_jobs", 0),
        ("xgb-adjacency", "n_estimators", 0),
        ("rf", "n_estimators", 0),
        ("rf", "max_features", 0.0),
        ("rf", "max_features", 1.5),
        ("rf", "min_samples_leaf", 0),
        ("rf", "n_jobs", 0),
        ("gp", "max_samples", 1),
        ("gp", "n_restarts_optimizer", -1),
    ],
)
def test_out_of_range_model_params_are_refused(model: str, key: str, value: float) -> None:
    with pytest.raises(NasreproError, match=f"{key}=.*out of range: it takes .*like its default"):
        check_model_params(model, {key: value})
    with pytest.raises(NasreproError, match="out of range"):
        Surrogate(model, **{key: value})


@pytest.mark.parametrize("name", list_models())
def test_param_ranges_name_constructor_arguments_and_hold_the_defaults(name: str) -> None:
    cls = model_class(name)
    defaults = cls().get_params()
    assert set(cls.param_ranges) <= set(defaults)
    for key, accepted in cls.param_ranges.items():
        assert defaults[key] in accepted, (name, key)
    check_model_params(name, {**cls.fast_params})
    create_model(name, **cls.fast_params)


def test_none_is_taken_where_the_model_documents_it() -> None:
    """``noise_estimators=None`` (the mean booster's) is what surrogates saved before
    2026-12-06 load with; a model rebuilt from them must take it."""
    check_model_params("xgb", {"noise_estimators": None, "noise_learning_rate": None})
    with pytest.raises(NasreproError, match="expected an integer"):
        check_model_params("xgb", {"n_estimators": None})


@pytest.mark.parametrize(
    "param,fragments",
    [
        ("n_estimators=0", ["n_estimators=0", "out of range", "[1, inf)"]),
        ("n_estimators=-1", ["n_estimators=-1", "out of range"]),
        ("learning_rate=0", ["learning_rate=0", "out of range"]),
        ("max_depth=0", ["max_depth=0", "out of range"]),
        ("random_state=3", ["--param random_state", "--seed"]),
    ],
)
def test_fit_refuses_nonsense_params_before_fitting(
    smoke_table_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    param: str,
    fragments: list[str],
) -> None:
    """``n_estimators=0`` wrote a surrogate predicting 0.50 for every architecture;
    ``random_state`` reached the models twice (a TypeError traceback)."""
    out = tmp_path / "m"
    args = ["surrogate", "fit", "--table", str(smoke_table_path), "--param", param]
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 2
    stdout, err = capsys.readouterr()
    assert "training runs" not in stdout and "Traceback" not in err, (stdout, err)
    assert len(err.strip().splitlines()) == 1 and all(f in err for f in fragments), err
    assert not out.exists()  # refused before fitting: nothing written, no training output

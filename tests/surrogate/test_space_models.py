"""Per-space models: a space answered by models fitted on its own group's rows only,
every other space by the joint models, through fit, predict, save/load and calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasrepro.bench.cli import main
from nasrepro.spaces._errors import ConfigError
from nasrepro.surrogate import Surrogate, SurrogateError, TrainingData, calibrate, load_table
from nasrepro.tables import Table

FAST = {"n_estimators": 20, "learning_rate": 0.3, "noise_estimators": 10}


def _data(chain_train: Table, hier_train_path: Path) -> TrainingData:
    return TrainingData.concat([load_table(chain_train), load_table(Table.open(hier_train_path))])


def _same(a: object, b: object) -> None:
    for f in ("valid_acc", "valid_std", "test_acc", "test_std", "cost_s"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def test_a_space_model_is_the_model_of_its_rows_alone(
    chain_train: Table, hier_train_path: Path, tmp_path: Path
) -> None:
    data = _data(chain_train, hier_train_path)
    hier = Table.open(hier_train_path)
    both = Surrogate("xgb", random_state=0, space_models={"hierarchical": ["hierarchical"]}, **FAST)
    both.fit(data)
    joint = Surrogate("xgb", random_state=0, **FAST).fit(data)
    alone = Surrogate("xgb", random_state=0, **FAST).fit(load_table(hier))
    h_archs, c_archs = list(hier.archs), list(chain_train.archs)

    got, want = both.predict(h_archs, "hierarchical"), alone.predict(h_archs, "hierarchical")
    np.testing.assert_array_equal(got.valid_acc, want.valid_acc)
    np.testing.assert_array_equal(got.test_std, want.test_std)
    assert not np.array_equal(got.valid_acc, joint.predict(h_archs, "hierarchical").valid_acc)
    # the cost model stays joint, and so do the spaces without models of their own
    np.testing.assert_array_equal(got.cost_s, joint.predict(h_archs, "hierarchical").cost_s)
    _same(both.predict(c_archs, "chain"), joint.predict(c_archs, "chain"))
    # earlier epochs are routed too
    np.testing.assert_array_equal(
        both.predict(h_archs, "hierarchical", epoch=1).valid_acc,
        alone.predict(h_archs, "hierarchical", epoch=1).valid_acc,
    )
    X = both.encode(h_archs, "hierarchical")
    np.testing.assert_array_equal(
        both.predict_features(X, space="hierarchical").valid_acc, want.valid_acc
    )
    np.testing.assert_array_equal(
        both.predict_features(X).valid_acc, joint.predict_features(X).valid_acc
    )

    both.save(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["format_version"] == 3
    assert meta["space_models"] == {"hierarchical": ["hierarchical"]}
    assert (tmp_path / "s" / "hierarchical.valid_acc.mean.json.gz").is_file()
    loaded = Surrogate.load(tmp_path / "s")
    assert loaded.space_models == {"hierarchical": ("hierarchical",)}
    _same(loaded.predict(h_archs, "hierarchical"), both.predict(h_archs, "hierarchical"))
    _same(loaded.predict(c_archs, "chain"), both.predict(c_archs, "chain"))
    # a joint surrogate is still written as format 2, which older nasrepro reads
    joint.save(tmp_path / "j")
    assert json.loads((tmp_path / "j" / "metadata.json").read_text())["format_version"] == 2


def test_calibration_folds_follow_the_space_models(
    chain_train: Table, hier_train_path: Path
) -> None:
    data = _data(chain_train, hier_train_path)
    s = Surrogate(
        "xgb", random_state=0, fidelities=False, space_models={"chain": ["chain"]}, **FAST
    ).fit(data)
    out = calibrate(s, data, folds=3)
    for sp in ("chain", "hierarchical"):
        assert out[sp]["valid_acc_oof_coverage_after"] >= 0.95
    # the chain's kappa comes from chain-only fold models: a joint surrogate gets another
    joint = Surrogate("xgb", random_state=0, fidelities=False, **FAST).fit(data)
    other = calibrate(joint, data, folds=3)
    assert other["hierarchical"] != out["hierarchical"] or other["chain"] != out["chain"]
    assert out["chain"]["valid_acc"] != other["chain"]["valid_acc"]


def test_space_models_need_their_rows_and_a_clear_shape(chain_train: Table) -> None:
    data = load_table(chain_train)
    s = Surrogate("xgb", random_state=0, space_models={"chain": ["chain", "cell"]}, **FAST)
    with pytest.raises(SurrogateError, match=r"needs rows of \['cell'\].*add their tables"):
        s.fit(data)
    with pytest.raises(SurrogateError, match=r"needs rows of \['hierarchical'\]"):
        Surrogate("xgb", space_models={"hierarchical": ["chain"]}, **FAST).fit(data)
    with pytest.raises(ConfigError, match="space_models must map a space name"):
        Surrogate("xgb", space_models={"chain": []})
    with pytest.raises(ConfigError, match="space_models must map a space name"):
        Surrogate("xgb", space_models={"a:b": ["chain"]})


def test_cli_fit_takes_space_models(
    chain_train: Table, hier_train_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["surrogate", "fit", "--table", str(chain_train.path), "--table"]
    args += [str(hier_train_path), "--out", str(tmp_path / "s")]
    args += [a for k, v in FAST.items() for a in ("--param", f"{k}={v}")]
    assert main([*args, "--space-model", "hierarchical=hierarchical,chain"]) == 0
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["space_models"] == {"hierarchical": ["hierarchical", "chain"]}
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--space-model", "hierarchical"])
    assert exit_.value.code == 2
    assert "expected SPACE=SPACES" in capsys.readouterr().err


def test_load_names_a_missing_or_corrupt_model_file(chain_train: Table, tmp_path: Path) -> None:
    s = Surrogate("xgb", random_state=0, space_models={"chain": ["chain"]}, **FAST)
    s.fit(load_table(chain_train)).save(tmp_path / "s")
    (tmp_path / "s" / "chain.valid_acc.mean.json.gz").unlink()
    with pytest.raises(SurrogateError, match=r"incomplete \(missing \['chain.valid_acc.mean"):
        Surrogate.load(tmp_path / "s")
    s.save(tmp_path / "s")
    path = tmp_path / "s" / "test_acc.noise.json.gz"
    path.write_bytes(path.read_bytes()[:500])  # cut short, as by a failed copy
    with pytest.raises(SurrogateError, match=r"test_acc.noise.json.gz is not the file .*sha256"):
        Surrogate.load(tmp_path / "s")
    meta_path = tmp_path / "s" / "metadata.json"  # saved before sha256 were recorded
    meta = json.loads(meta_path.read_text())
    del meta["sha256"]
    meta_path.write_text(json.dumps(meta))
    with (
        pytest.warns(UserWarning, match="saved before surrogates recorded the sha256"),
        pytest.raises(SurrogateError, match=r"'test_acc' model files .* are unreadable"),
    ):
        Surrogate.load(tmp_path / "s")

"""The surrogate pipeline: loading tables, fitting, JSON persistence, honest evaluation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from nasrepro.surrogate import (
    METRICS,
    Surrogate,
    SurrogateError,
    TrainingData,
    evaluate,
    feature_names,
    list_models,
    load_table,
    model_class,
    rank_metrics,
    split_rows,
    write_report,
)
from nasrepro.tables import Table


def _fit(table: Table, name: str = "xgb") -> Surrogate:
    data = load_table(table, encoding=model_class(name).encoding)
    return Surrogate(name, random_state=0, **model_class(name).fast_params).fit(data)


def test_load_table_gives_one_row_per_trained_arch_and_seed(chain_train: Table) -> None:
    data = load_table(chain_train)
    n = chain_train.n_rows  # the sampled architectures, all trained with 2 seeds
    assert n >= 4 and len(data) == n * 2 and data.X.shape == (n * 2, len(feature_names()))
    assert sorted(set(data.seeds.tolist())) == [0, 1]
    r = chain_train.query(data.archs[0], seed=int(data.seeds[0]))
    assert (data.valid_acc[0], data.test_acc[0], data.cost_s[0]) == pytest.approx(
        (r.valid_acc, r.test_acc, r.train_time_s)
    )
    assert data.protocol_id == chain_train.protocol_id
    assert data.sha256() == load_table(chain_train).sha256()
    assert data.sha256() != data.select(np.arange(len(data)) > 0).sha256()


@pytest.mark.parametrize("name", list_models())
def test_fit_save_load_round_trip_without_pickle(
    name: str, chain_train: Table, tmp_path: Path
) -> None:
    s = _fit(chain_train, name)
    archs = chain_train.archs[:5]
    before = s.predict(archs, "chain")
    assert before.valid_acc.shape == before.cost_s.shape == (5,)
    assert np.all(before.cost_s > 0) and np.all(before.valid_std >= 0)
    s.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert all(f.endswith((".json", ".json.gz")) for f in files), files
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["protocol_id"] == chain_train.protocol_id
    assert meta["training_data_sha256"] == load_table(chain_train, encoding=s.encoding).sha256()
    assert meta["model"] == name and meta["n_train_archs"] == {"chain": chain_train.n_rows}
    assert meta["nasrepro_version"] and meta["sources"][0]["file"] == "chain-train.h5"
    from importlib import metadata  # the versions the models depend on (an audit)

    assert meta["versions"]["xgboost"] == metadata.version("xgboost")
    assert {"python", "numpy", "scikit-learn", "nasrepro"} <= set(meta["versions"])
    if s.encoding == "graph":
        assert meta["feature_names"] == list(feature_names())
    after = Surrogate.load(tmp_path / "m").predict(archs, "chain")
    for a, b in zip(before.__dict__.values(), after.__dict__.values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_evaluate_on_held_out_sample(chain_train: Table, chain_test: Table, tmp_path: Path) -> None:
    s = _fit(chain_train)
    ev = evaluate(s, chain_test)
    assert tuple(ev.metrics) == METRICS
    qps = ev.metrics["queries_per_s"]  # the query speed DESIGN.md asks eval to report
    assert isinstance(qps, float) and qps > 0
    overlap = set(chain_train.archs) & set(chain_test.archs)
    assert ev.metrics["n_test"] == chain_test.n_rows - len(overlap)
    assert ev.metrics["n_train"] == chain_train.n_rows
    s0 = chain_test.query_many(list(ev.archs), seed=0).valid_acc
    s1 = chain_test.query_many(list(ev.archs), seed=1).valid_acc
    assert ev.metrics["seed_noise_mae"] == pytest.approx(np.abs(s0 - s1).mean())
    assert ev.metrics["seed_noise_tau"] == pytest.approx(kendalltau(s0, s1).statistic)
    want_mae = np.mean(np.abs(np.concatenate([s0, s1]) - np.tile(ev.pred_mean, 2)))
    assert ev.metrics["mae"] == pytest.approx(want_mae)
    runs, pred = np.concatenate([s0, s1]), np.tile(ev.pred_mean, 2)
    assert ev.metrics["mean_signed_error"] == pytest.approx(np.mean(pred - runs))
    within = np.abs(runs - pred) <= 2 * np.tile(ev.pred_std, 2)
    assert ev.metrics["coverage_2sigma"] == pytest.approx(within.mean())
    ceiling = ev.metrics["noise_ceiling_tau"]
    if ceiling:  # None on this small fixture when its seeds do not agree
        assert ev.metrics["tau_of_ceiling"] == pytest.approx(ev.metrics["kendall_tau"] / ceiling)
    else:
        assert ev.metrics["tau_of_ceiling"] is None
    out = write_report([ev], tmp_path / "report")
    assert (out / "scatter-chain.png").stat().st_size > 1000
    assert json.loads((out / "metrics.json").read_text())["chain"]["n_test"] == ev.metrics["n_test"]


def test_evaluate_refuses_training_architectures(chain_train: Table) -> None:
    with pytest.raises(SurrogateError, match="held-out"):
        evaluate(_fit(chain_train), chain_train)


def test_refuses_to_mix_protocols(chain_train: Table, cell_table: Table) -> None:
    with pytest.raises(SurrogateError, match="mix training protocols"):
        TrainingData.concat([load_table(chain_train), load_table(cell_table)])


def test_adjacency_encoding_serves_one_space(chain_train: Table) -> None:
    data = load_table(chain_train, encoding="adjacency")
    s = Surrogate("xgb-adjacency", random_state=0, n_estimators=5).fit(data)
    with pytest.raises(SurrogateError, match="fitted on"):
        s.predict(["|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"], "cell")
    with pytest.raises(SurrogateError, match="takes 'graph' inputs"):
        Surrogate("xgb").fit(data)


@pytest.fixture(scope="module")
def cell_fit(cell_table: Table) -> tuple[Surrogate, np.ndarray]:
    """An xgb surrogate fitted on a seeded 10% of the real fixture; the other rows."""
    fit_rows, test_rows = split_rows(cell_table, 0.1, seed=0)
    s = Surrogate("xgb", random_state=0, n_estimators=300).fit(load_table(cell_table, fit_rows))
    return s, test_rows


def test_cell_surrogate_ranks_held_out_cells(
    cell_table: Table, cell_fit: tuple[Surrogate, np.ndarray]
) -> None:
    """Fitted on 10% of the real MNIST-1D fixture, it ranks the other 90% better than
    the parameter count does (a standard zero-cost proxy).

    The fixture trains 2 short epochs with one seed and 300 validation samples, so its
    labels are noisy: valid and test accuracy of the same trained nets agree only to
    tau ~0.70, which bounds what any predictor can reach. The tau goals of issue 7
    are for the default table.
    """
    s, test_rows = cell_fit
    ev = evaluate(s, cell_table)
    assert ev.metrics["n_test"] == len(test_rows)
    r = cell_table.query_many(test_rows)
    proxy = rank_metrics(r.valid_acc, r.params.astype(float))["kendall_tau"]
    assert ev.metrics["kendall_tau"] > proxy + 0.05, (ev.metrics, proxy)


def test_earlier_epoch_model_predicts_that_epoch(
    cell_table: Table, cell_fit: tuple[Surrogate, np.ndarray]
) -> None:
    s, test_rows = cell_fit
    archs = [cell_table.archs[r] for r in test_rows[:2000].tolist()]
    true1 = cell_table.query_many(test_rows[:2000], epoch=1).valid_acc
    at1 = s.predict(archs, "cell", epoch=1)
    final = s.predict(archs, "cell")
    assert np.abs(at1.valid_acc - true1).mean() < np.abs(final.valid_acc - true1).mean()
    # Epoch-1 accuracies after 20 steps are noisy; the epoch-1 model must still rank
    # them better than the final-epoch model does.
    tau1 = rank_metrics(true1, at1.valid_acc)["kendall_tau"]
    assert tau1 > rank_metrics(true1, final.valid_acc)["kendall_tau"]  # type: ignore[operator]
    assert np.all(at1.cost_s < final.cost_s)


def test_load_refuses_other_features_and_newer_formats(chain_train: Table, tmp_path: Path) -> None:
    d = _fit(chain_train).save(tmp_path / "m")
    meta = json.loads((d / "metadata.json").read_text())
    (d / "metadata.json").write_text(json.dumps({**meta, "feature_names": ["x"]}))
    with pytest.raises(SurrogateError, match="other features"):
        Surrogate.load(d)
    (d / "metadata.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(SurrogateError, match="newer"):
        Surrogate.load(d)
    with pytest.raises(SurrogateError, match="no metadata.json"):
        Surrogate.load(tmp_path / "nowhere")


def test_load_names_what_is_wrong_with_malformed_metadata(
    chain_train: Table, tmp_path: Path
) -> None:
    """Valid JSON of the wrong shape is one message with the fix, never a traceback."""
    d = _fit(chain_train).save(tmp_path / "m")
    meta = json.loads((d / "metadata.json").read_text())
    bad = {
        "a JSON list": [],
        "no 'encoding'": {k: v for k, v in meta.items() if k != "encoding"},
        "no 'model_params'": {k: v for k, v in meta.items() if k != "model_params"},
        "no 'protocol'": {k: v for k, v in meta.items() if k != "protocol"},
        "format_version '3a' is not an integer": {**meta, "format_version": "3a"},
        "'files' must map each model to a list of file names": {
            k: v for k, v in meta.items() if k != "files"
        },
        # each of these was a KeyError, IndexError or TypeError traceback (an audit)
        "no 'protocol_id'": {k: v for k, v in meta.items() if k != "protocol_id"},
        "no 'n_features'": {k: v for k, v in meta.items() if k != "n_features"},
        "no 'epoch_cost_fraction'": {k: v for k, v in meta.items() if k != "epoch_cost_fraction"},
        "epoch_cost_fraction \\[\\] is not a list": {**meta, "epoch_cost_fraction": []},
        "epoch_cost_fraction 'x' is not a list": {**meta, "epoch_cost_fraction": "x"},
        "n_features '3' is not an integer": {**meta, "n_features": "3"},
        "'files' must map each model": {**meta, "files": "nofile"},
        "model_error_std of 'chain': 'x' is not stds": {**meta, "model_error_std": {"chain": "x"}},
        "model_error_std of 'chain'": {**meta, "model_error_std": {"chain": {"valid_acc": -5}}},
    }
    for said, m in bad.items():
        (d / "metadata.json").write_text(json.dumps(m))
        with pytest.raises(SurrogateError, match=f"invalid surrogate metadata \\({said}.*refit"):
            Surrogate.load(d)
    # a wrong n_features failed at the first prediction: "expected inputs of shape (n, 3)"
    (d / "metadata.json").write_text(json.dumps({**meta, "n_features": 3}))
    with pytest.raises(SurrogateError, match="fitted on other features than this nasrepro"):
        Surrogate.load(d)


def test_diverged_runs_are_left_out_of_the_training_data(
    chain_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run with a NaN accuracy in some epoch (a diverged training, which a table keeps)
    cannot be a target: XGBoost refused the whole fit ("Input y contains NaN")."""
    import gzip
    import shutil

    from nasrepro.tables import build

    sweep = tmp_path / "sw"
    shutil.copytree(chain_dir / "chain-train", sweep)
    chunk = sorted((sweep / "chunks").glob("*.json.gz"))[0]
    payload = json.loads(gzip.decompress(chunk.read_bytes()))
    payload["results"][0]["history"]["test_acc"][0] = float("nan")  # an epoch diverged
    chunk.write_bytes(gzip.compress(json.dumps(payload).encode()))
    build(sweep, tmp_path / "t.h5")
    table = Table.open(tmp_path / "t.h5")
    with caplog.at_level(logging.WARNING, logger="nasrepro.surrogate._data"):
        data = load_table(table)
    assert len(data) == table.n_rows * 2 - 1 and np.isfinite(data.valid_curve).all()
    assert "1 training runs with a NaN or infinite accuracy or time" in caplog.text
    s = _fit(table)
    assert np.isfinite(s.predict(list(data.archs[:2]), table.space).valid_acc).all()

"""The Table query API on a real small table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from tables_support import SEEDS, canonical_cells

from nasrepro.spaces import CellArch
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import (
    RESULT_METRICS,
    MissingEntryError,
    Table,
    TableError,
    TableResult,
    default_table_path,
    get_protocol,
    load_default,
)


def test_open_is_lazy(table_path: Path) -> None:
    t = Table.open(table_path)
    assert t._data is None  # nothing but the header read
    assert t.n_rows == 15625 and t.seeds == tuple(SEEDS) and t.space_name == "cell"
    assert t.protocol == get_protocol("synthetic-smoke")
    t.query(canonical_cells()[0])
    assert t._data is not None
    with Table.open(table_path, verify=True) as v:
        assert v._data is not None
    assert "rows=15625" in repr(t)


def test_result_is_typed(table: Table) -> None:
    r = table.query(canonical_cells()[0])
    assert isinstance(r, TableResult)
    assert {"valid_acc", "test_acc", "train_time_s", "params", "flops"} <= {
        f.name for f in dataclasses.fields(r)
    }
    assert isinstance(r.params, int) and isinstance(r.flops, int) and r.params > 0
    assert isinstance(r.test_acc, float) and 0 <= r.test_acc <= 100
    assert r.epoch == table.final_epoch and r.seed is None
    assert r.train_time_s >= r.epoch_time_s > 0
    assert r.to_dict()["arch"] == r.arch


def test_default_is_final_epoch_mean_over_seeds(table: Table) -> None:
    for arch in canonical_cells():
        mean = table.query(arch)
        per = [table.query(arch, seed=s) for s in SEEDS]
        for m in ("valid_acc", "test_acc", "train_loss", "train_time_s"):
            assert getattr(mean, m) == pytest.approx(np.mean([getattr(p, m) for p in per]))
        assert mean.per_seed_valid_acc == tuple(p.valid_acc for p in per)
        assert table.query(arch, epoch=table.final_epoch) == mean
        first = table.query(arch, epoch=1)
        assert first.train_time_s == pytest.approx(first.epoch_time_s)


def test_query_errors(table: Table) -> None:
    arch = canonical_cells()[0]
    with pytest.raises(ValueError, match="epoch=99"):
        table.query(arch, epoch=99)
    with pytest.raises(ValueError, match="epoch=0"):
        table.query(arch, epoch=0)
    with pytest.raises(MissingEntryError, match="seed 7"):
        table.query(arch, seed=7)
    with pytest.raises(ValueError, match="position"):
        table.query("|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|")
    untrained = CellArch.from_string(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    with pytest.raises(MissingEntryError, match="partial") as e:
        table.query(untrained)
    assert isinstance(e.value, KeyError) and isinstance(e.value, TableError)
    with pytest.raises(MissingEntryError, match="out of range"):
        table.query(15625)
    with pytest.raises(TypeError):
        table.query(3.5)  # type: ignore[arg-type]


def test_query_many_matches_query(table: Table) -> None:
    archs = canonical_cells()
    for epoch, seed in [(None, None), (1, None), (None, SEEDS[1]), (1, SEEDS[0])]:
        many = table.query_many(archs, epoch=epoch, seed=seed)
        assert len(many) == len(archs) and many.epoch == (epoch or table.final_epoch)
        for k, a in enumerate(archs):
            one = table.query(a, epoch=epoch, seed=seed)
            assert many.index[k] == one.index and many.n_seeds[k] == one.n_seeds
            for m in RESULT_METRICS:
                assert many[m][k] == pytest.approx(getattr(one, m), rel=1e-12), m
    objs = table.query_many([CellArch.from_string(a) for a in archs])
    rows = table.query_many(np.array([CellArch.from_string(a).index for a in archs]))
    strs = table.query_many(iter(archs))
    for r in (objs, rows):
        np.testing.assert_array_equal(r.test_acc, strs.test_acc)
    with pytest.raises(KeyError):
        strs["nope"]
    with pytest.raises(ValueError):
        table.query_many(archs, missing="skip")  # type: ignore[arg-type]


def test_best_top_optimum(table: Table) -> None:
    by_test = {a: table.query(a).test_acc for a in canonical_cells()}
    top = table.top(3)
    assert [r.test_acc for r in top] == sorted(by_test.values(), reverse=True)[:3]
    assert table.best().test_acc == table.optimum == max(by_test.values())
    losses = [r.valid_loss for r in table.top(10, "valid_loss")]
    assert losses == sorted(losses) and len(losses) == len(canonical_cells())
    small = table.best("params")
    assert small.params == min(table.query(a).params for a in canonical_cells())
    assert table.best("params", mode="max").params >= small.params
    assert table.top(0) == []
    with pytest.raises(ValueError, match="metric"):
        table.top(3, "accuracy")


def test_to_dataframe(table: Table) -> None:
    df = table.to_dataframe()
    assert len(df) == len(canonical_cells())
    assert set(df["arch"]) == set(canonical_cells())
    assert list(df.columns[:3]) == ["arch", "index", "n_seeds"]
    row = df[df["arch"] == canonical_cells()[1]].iloc[0]
    assert row["test_acc"] == table.query(canonical_cells()[1]).test_acc
    long = table.to_dataframe(per_seed=True)
    assert len(long) == len(canonical_cells()) * len(SEEDS)
    assert sorted(set(long["seed"])) == SEEDS
    one = table.to_dataframe(seed=SEEDS[-1], per_seed=True)  # the seed is not ignored
    assert len(one) == len(canonical_cells()) and set(one["seed"]) == {SEEDS[-1]}
    assert one.drop(columns="seed").equals(table.to_dataframe(seed=SEEDS[-1]))


def test_coverage_and_arrays(table: Table) -> None:
    assert table.coverage() == {s: (len(canonical_cells()), 6466) for s in SEEDS}
    assert table.metrics.shape[:2] == (15625, len(SEEDS))
    with pytest.raises(ValueError):
        table.metrics[0, 0, 0, 0] = 1.0
    assert int(table.trained().sum()) == len(canonical_cells())


def test_load_default() -> None:
    if default_table_path() is None:
        with pytest.raises(TableError, match="nasrepro table build"):
            load_default()
    else:
        assert load_default().n_rows == 15625


def test_the_class_docstring_example_runs_on_the_shipped_table() -> None:
    """It passed top()'s TableResults to query_many(), which refused them."""
    import doctest

    import nasrepro.tables._table as module

    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(module.Table, "Table", module=module) if t.name == "Table"]
    runner = doctest.DocTestRunner()
    runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0 and res.attempted > 0  # examples exist, and pass


def test_one_architecture_where_a_sequence_goes_is_refused_with_the_fix() -> None:
    """A string was iterated character by character: "found 1 in '|'"."""
    t = load_default()
    arch = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    for bad in (arch, t.space.parse(arch), t.query(arch)):
        with pytest.raises(ConfigError, match=r"got one \w+; use query\(\) for one, or wrap it"):
            t.query_many(bad)
    assert t.query_many([t.query(arch)]).test_acc[0] == pytest.approx(t.query(arch).test_acc)

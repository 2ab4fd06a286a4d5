"""The array features equal the per-network definition bit for bit, and the numpy
forest equals XGBoost's own predictions bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import Block, BlockKind, CellSpec, NetworkSpec, Op, get_space, list_spaces
from nasrepro.surrogate import Surrogate, feature_names, features, load_table
from nasrepro.surrogate import _surrogate as surrogate_module
from nasrepro.surrogate._batch_features import batch_features
from nasrepro.surrogate._features import features_many
from nasrepro.surrogate._forest import Forest
from nasrepro.tables import Table, get_protocol


def _loop(
    specs: list[NetworkSpec], shape: tuple[int, ...] = (1, 40), classes: int = 10
) -> np.ndarray:
    return np.stack([features(s, shape, classes) for s in specs])


@pytest.mark.parametrize("space_name", list_spaces())
def test_array_features_equal_the_loop_on_1000_archs(space_name: str) -> None:
    space = get_space(space_name)
    p = get_protocol("mnist1d-tiny")
    rng = np.random.default_rng(7)
    specs = [space.lower(space.sample(rng), **p.macro()) for _ in range(1000)]
    X = batch_features(specs, p.input_shape, p.num_classes)
    ref = _loop(specs, p.input_shape, p.num_classes)
    assert X.dtype == ref.dtype and X.shape == ref.shape
    np.testing.assert_array_equal(X, ref)
    # features_many picks the array path for a batch, the loop for a few
    np.testing.assert_array_equal(
        features_many(specs[:100], p.input_shape, p.num_classes), ref[:100]
    )
    np.testing.assert_array_equal(features_many(specs[:3], p.input_shape, p.num_classes), ref[:3])


@pytest.mark.parametrize("space_name", list_spaces())
@pytest.mark.parametrize("reduction", ["resblock", "poolreduce", "pool"])
def test_array_features_equal_the_loop_on_other_macros(space_name: str, reduction: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(8)
    specs = [space.lower(space.sample(rng), C=16, N=2, reduction=reduction) for _ in range(60)]
    for shape, classes in (((1, 40), 10), ((3, 32, 32), 100), ((2, 7), 3)):
        np.testing.assert_array_equal(
            batch_features(specs, shape, classes), _loop(specs, shape, classes)
        )


def test_array_features_on_awkward_cells() -> None:
    none = CellSpec(4, tuple((s, d, Op.NONE) for d in range(1, 4) for s in range(d)))
    cut = CellSpec(4, ((0, 1, Op.CONV3X3), (1, 2, Op.NONE), (2, 3, Op.SKIP), (0, 3, Op.AVGPOOL3X3)))
    parallel = CellSpec(
        3, ((1, 2, Op.CONV5X5), (0, 1, Op.SKIP), (0, 1, Op.MAXPOOL3X3), (1, 2, Op.CONV5X5))
    )
    empty = CellSpec(5, ())
    unsorted = CellSpec(
        4,
        ((2, 3, Op.CONV1X1), (0, 2, Op.DWCONV3X3), (0, 1, Op.SEPCONV3X3), (1, 3, Op.MBCONV_E6_K5)),
    )
    ops = (Op.CONV3X3, Op.SKIP, Op.CONV1X1, Op.AVGPOOL3X3)
    # complete DAGs: 28 edges (path counts in int16), 45 (int32) and 66 (past 56: int64)
    dense = [
        CellSpec(n, tuple((s, d, ops[(s + d) % 4]) for d in range(1, n) for s in range(d)))
        for n in (8, 10, 12)
    ]
    specs = [NetworkSpec(8, ())]  # stem and head only
    for cell in (none, cut, parallel, empty, unsorted, *dense):
        specs.append(NetworkSpec(8, (Block(BlockKind.CELL, 8, 8, 1, cell),)))
        # projections: channels change, and stride 2
        specs.append(
            NetworkSpec(
                8,
                (
                    Block(BlockKind.CELL, 8, 12, 2, cell),
                    Block(BlockKind.POOL, 12, 24, 2),
                    Block(BlockKind.CELL, 24, 24, 1, cell),
                    Block(BlockKind.RESBLOCK, 24, 30, 1),
                    Block(BlockKind.POOLREDUCE, 30, 30, 2),
                    Block(BlockKind.CELL, 30, 31, 2, cell),
                ),
            )
        )
    X = batch_features(specs)
    np.testing.assert_array_equal(X, _loop(specs))
    assert X.shape == (len(specs), len(feature_names()))
    assert batch_features([]).shape == (0, len(feature_names()))


@pytest.mark.parametrize("space_name", list_spaces())
def test_encoding_strings_equals_the_loop_on_1000_archs(space_name: str) -> None:
    """The whole batch path from strings (the space's array lowering, then the array
    features) against lowering each string and the per-network features (of its
    representative, where the space has the surrogate featurize those: the cell's)."""
    from nasrepro.surrogate._data import encode

    space = get_space(space_name)
    p = get_protocol("mnist1d-tiny")
    rng = np.random.default_rng(11)
    strings = [space.sample(rng).to_string() for _ in range(1000)]
    X = encode(strings, space, p)
    archs = [space.parse(s) for s in strings]
    if space.features_of_canonical:
        archs = [space.canonical(a) for a in archs]
    ref = _loop([space.lower(a, **p.macro()) for a in archs], p.input_shape)
    np.testing.assert_array_equal(X, ref)


# ------------------------------------------------------------------ the forest
@pytest.fixture(scope="module")
def fitted() -> Surrogate:
    data = load_table(Table.open("tests/data/cell-mnist1d-smoke.h5"))
    return Surrogate("xgb", random_state=0, n_estimators=60, max_depth=5).fit(data)


def _boosters(s: Surrogate) -> list[tuple[str, object]]:
    m = s.models_["valid_acc"]
    return [
        ("mean", m.mean_.get_booster()),  # type: ignore[attr-defined]
        ("noise", m.noise_.get_booster()),  # two quantile outputs  # type: ignore[attr-defined]
        ("cost", s.cost_.mean_.get_booster()),
    ]


def test_forest_equals_xgboost_bit_for_bit(fitted: Surrogate) -> None:
    rng = np.random.default_rng(0)
    space = get_space("cell")
    X = fitted.encode([space.sample(rng) for _ in range(300)], space)
    X[::7, rng.integers(0, X.shape[1], size=len(X[::7]))] = np.nan  # missing values go by default
    forest = Forest(_boosters(fitted))
    out = forest.predict(X)
    for name, booster in _boosters(fitted):
        ref = booster.inplace_predict(X).reshape(len(X), -1)  # type: ignore[attr-defined]
        assert out[name].dtype == np.float32
        np.testing.assert_array_equal(out[name], ref)
    assert out["noise"].shape == (300, 2)
    with pytest.raises(ValueError, match="shape"):
        forest.predict(X[:, :-1])


def test_forest_refuses_a_linear_booster() -> None:
    from xgboost import XGBRegressor

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    linear = XGBRegressor(booster="gblinear", n_estimators=5).fit(X, y)
    with pytest.raises(ValueError, match="gbtree"):
        Forest([("linear", linear.get_booster())])


def test_small_and_large_batches_and_duplicates_give_the_same_bits(fitted: Surrogate) -> None:
    space = get_space("cell")
    rng = np.random.default_rng(1)
    archs = [space.sample(rng).to_string() for _ in range(80)]
    archs += archs[:30]  # duplicates, predicted once
    for epoch in (None, 2):
        fitted.clear_memo()  # every call below computes its predictions
        batch = fitted.predict(archs, space, epoch)
        old = surrogate_module.FOREST_ROWS
        try:
            surrogate_module.FOREST_ROWS = 0  # XGBoost for every batch
            fitted.clear_memo()
            xgb = fitted.predict(archs, space, epoch)
        finally:
            surrogate_module.FOREST_ROWS = old
        singles = []
        for a in archs[:12]:  # the forest
            fitted.clear_memo()
            singles.append(fitted.predict([a], space, epoch))
        for f in ("valid_acc", "valid_std", "test_acc", "test_std", "cost_s"):
            np.testing.assert_array_equal(getattr(batch, f), getattr(xgb, f))
            np.testing.assert_array_equal(getattr(batch, f)[80:], getattr(batch, f)[:30])
            np.testing.assert_array_equal(
                np.concatenate([getattr(p, f) for p in singles]), getattr(batch, f)[:12]
            )


def test_remembered_predictions_are_the_same_bits_and_bounded(fitted: Surrogate) -> None:
    space = get_space("cell")
    rng = np.random.default_rng(3)
    archs = [space.sample(rng).to_string() for _ in range(120)]
    fields = ("valid_acc", "valid_std", "test_acc", "test_std", "cost_s")
    fitted.clear_memo()
    first = fitted.predict(archs[:70], space)
    mixed = fitted.predict(archs[::-1], space)  # 70 remembered, 50 new, in another order
    fitted.clear_memo()
    fresh = fitted.predict(archs[::-1], space)
    for f in fields:
        np.testing.assert_array_equal(getattr(mixed, f), getattr(fresh, f))
        np.testing.assert_array_equal(getattr(mixed, f)[::-1][:70], getattr(first, f))
    # the memo is per epoch: epoch 2 is not answered from the final epoch's entries
    assert fitted.n_epochs > 1
    assert not np.array_equal(fitted.predict(archs[:5], space, 1).valid_acc, first.valid_acc[:5])
    # and per space settings: a chain of another depth range lowers differently
    chain, short = get_space("chain"), get_space("chain", L_max=4)
    arch = "conv3x3@1.0|skip@0.5"
    assert chain.info() != short.info() and len(fitted.__dict__["_memos"]) == 2
    fitted.predict([arch], chain)
    fitted.predict([arch], short)
    assert len(fitted.__dict__["_memos"]) == 4
    old = surrogate_module.MEMO_SIZE
    try:
        surrogate_module.MEMO_SIZE = 100
        fitted.clear_memo()
        fitted.predict(archs[:70], space)
        again = fitted.predict(archs, space)  # 70 + 50 > 100: the memo starts again
        (memo,) = fitted.__dict__["_memos"].values()
        assert len(memo) == 50
        np.testing.assert_array_equal(again.valid_acc, fresh.valid_acc[::-1])
        surrogate_module.MEMO_SIZE = 0  # off: nothing is remembered
        fitted.clear_memo()
        off = fitted.predict(archs, space)
        assert "_memos" not in fitted.__dict__
        np.testing.assert_array_equal(off.valid_acc, fresh.valid_acc[::-1])
    finally:
        surrogate_module.MEMO_SIZE = old
        fitted.clear_memo()


def test_a_refit_drops_the_old_forest(fitted: Surrogate) -> None:
    data = load_table(Table.open("tests/data/cell-mnist1d-smoke.h5"))
    s = Surrogate("xgb", random_state=0, n_estimators=10).fit(data)
    arch = [get_space("cell").sample(np.random.default_rng(2)).to_string()]
    before = s.predict(arch, "cell").valid_acc
    s.fit(load_table(Table.open("tests/data/cell-mnist1d-smoke.h5")))
    s.params = {"n_estimators": 30}
    s.fit(data)
    after = s.predict(arch, "cell").valid_acc
    ref = s.models_["valid_acc"].mean_.get_booster().inplace_predict(s.encode(arch, "cell"))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(after, np.asarray(ref, dtype=np.float64))
    assert not np.array_equal(before, after)


def test_distinct_rows_by_bits_with_and_without_hash_collisions() -> None:
    from nasrepro.surrogate._surrogate import _distinct_rows

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, (2000, 149)).astype(np.float64)
    X[300:] = X[rng.integers(0, 300, 1700)]  # at most 300 distinct rows
    cases = [X]
    signed = X.copy()
    signed[1] = signed[0]
    signed[1, 0] = -0.0 if signed[0, 0] == 0 else -signed[0, 0]  # differs by a sign only
    signed[0, 0] = 0.0 if signed[0, 0] == 0 else signed[0, 0]
    cases.append(signed)
    with_nan = X.copy()
    with_nan[[5, 6], 3] = np.nan  # rows 5 and 6 stay equal by their bits
    cases.append(with_nan)
    for case in cases:
        first, inverse = _distinct_rows(case)
        bits = case.view(np.uint64)
        np.testing.assert_array_equal(bits[first][inverse], bits)  # every row rebuilt
        assert len(first) == len(np.unique(bits, axis=0))  # and no two firsts equal

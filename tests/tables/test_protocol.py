"""The protocol is a table's data contract: fixed ids, dataset shapes, checked records."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import h5py
import pytest

from nasrepro.tables import (
    DATASET_SHAPES,
    Protocol,
    Table,
    TableError,
    get_protocol,
    list_protocols,
)
from nasrepro.tables._format import SMALL_DATASETS, header_digest

#: The id of every registered protocol, as recorded by the shipped table, the sweeps
#: under benchmarks/data/sweeps and the reference results. A change here orphans all of them.
PINNED_IDS = {
    # 448ce5a7... until 2026-12-07, when its test split became CIFAR-10's own (no table
    # or sweep in the project was trained under it)
    "cifar10-nb201": "0cc1cf0dba5ee3e206e8d2e8249aa237015128bfed21c7ca68c51c1a33716f02",
    "mnist1d-smoke": "6133a9f266bacbd34f2061e3225d58a460a4bd09b8171fa58bf127c06c41549a",
    "mnist1d-tiny": "b0c01d2c0cd7f7b5135a5e8a1b1b384ec634951754e37215377a32104e14eb13",
    "synthetic-smoke": "b0d2bae473058c2b9efe56124101522a13850f44d5cf205e8983d0bc285c8b01",
}


def test_registered_protocol_ids_are_pinned() -> None:
    assert {name: get_protocol(name).id for name in list_protocols()} == PINNED_IDS


def test_derived_properties_stay_out_of_the_record() -> None:
    p = get_protocol("mnist1d-tiny")
    assert p.input_shape == (1, 40) and p.num_classes == 10
    assert not {"input_shape", "num_classes", "id"} & set(p.to_dict())
    assert Protocol.from_json(p.to_json(), p.id) == p


@pytest.mark.parametrize("dataset", ["synthetic", "digits", "mnist1d"])
def test_dataset_shapes_match_the_harness(dataset: str) -> None:
    from nasrepro.bench.harness import load_splits

    splits = load_splits(dataset, 200, 50, 50, 0)
    p = Protocol(
        name="x", dataset=dataset, n_train=200, n_valid=50, n_test=50, epochs=1, batch_size=50
    )
    assert tuple(splits.x_train.shape[1:]) == p.input_shape
    assert splits.num_classes == p.num_classes
    assert (p.input_shape, p.num_classes) == DATASET_SHAPES[dataset]


def test_every_registered_dataset_has_a_shape() -> None:
    from nasrepro.bench.harness import DATASETS

    assert set(DATASETS) == set(DATASET_SHAPES)
    for name in list_protocols():
        assert get_protocol(name).input_shape  # no ValueError


def test_unknown_dataset_names_the_fix() -> None:
    p = dataclasses.replace(get_protocol("synthetic-smoke"), dataset="imagenet")
    with pytest.raises(ValueError, match="add its .* to nasrepro.tables.DATASET_SHAPES"):
        p.input_shape


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: {**d, "epochs": "6"}, "invalid protocol values"),
        (lambda d: {k: v for k, v in d.items() if k != "dataset"}, "lacks the fields"),
        (lambda d: {**d, "optimizer": "adam"}, "unknown protocol fields"),
        (lambda d: [d], "JSON object"),
    ],
)
def test_from_dict_rejects_bad_records(edit, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        Protocol.from_dict(edit(get_protocol("synthetic-smoke").to_dict()))


def test_from_dict_checks_the_recorded_id() -> None:
    p = get_protocol("synthetic-smoke")
    with pytest.raises(ValueError, match="not its recorded id 000000000000"):
        Protocol.from_dict(p.to_dict(), "0" * 64)


def test_table_protocol_is_a_protocol(table_path: Path) -> None:
    t = Table.open(table_path)
    assert isinstance(t.protocol, Protocol)
    assert t.protocol == get_protocol("synthetic-smoke") and t.protocol.id == t.protocol_id


def _rewrite_protocol(src: Path, dst: Path, protocol: str) -> None:
    """Copy a table with another protocol record, the header checksum updated to match."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["protocol"] = protocol
        attrs = {k: f.attrs[k] for k in f.attrs}
        small = {k: f[k][()] for k in SMALL_DATASETS}
        f.attrs["header_sha256"] = header_digest(attrs, small)


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ('{"name": "other"}', "lacks the fields"),
        ("[1, 2]", "JSON object"),
        ("hashes", "hashes to"),  # a valid protocol, but not the one recorded by the id
    ],
)
def test_invalid_protocol_record_is_a_table_error(
    table_path: Path, tmp_path: Path, record: str, match: str
) -> None:
    if record == "hashes":
        record = get_protocol("mnist1d-smoke").to_json()
    bad = tmp_path / "bad.h5"
    _rewrite_protocol(table_path, bad, record)
    t = Table.open(bad)  # the rest of the table is readable
    with pytest.raises(TableError, match=f"{bad}: the table's protocol record is invalid.*{match}"):
        t.protocol


def test_test_split_is_recorded_only_when_official() -> None:
    """The field came after the shipped tables: a ``pool`` protocol hashes as before."""
    tiny = get_protocol("mnist1d-tiny")
    assert tiny.test_split == "pool" and "test_split" not in tiny.to_dict()
    nb = get_protocol("cifar10-nb201")
    assert nb.to_dict()["test_split"] == "official"
    assert Protocol.from_json(nb.to_json(), nb.id) == nb
    assert Protocol.from_json(tiny.to_json(), tiny.id) == tiny
    with pytest.raises(ValueError, match="unknown self.test_split='train'"):
        dataclasses.replace(tiny, test_split="train")


def test_the_official_split_trains_on_no_test_image() -> None:
    """cifar10-nb201 pooled CIFAR-10's 60k images until 2026-12-07: 4,142 of its 25k
    training images were official test images. Now train and valid are the 50k training
    images cut 25k/25k and test is the 10k test set, as NAS-Bench-201 does."""
    import numpy as np

    from nasrepro.bench.harness._data import DatasetError, split_indices

    p = get_protocol("cifar10-nb201")
    tr, va, te = split_indices(60000, p.n_train, p.n_valid, p.n_test, p.split_seed, 50000)
    assert (len(tr), len(va), len(te)) == (25000, 25000, 10000)
    assert tr.max() < 50000 and va.max() < 50000 and not set(tr.tolist()) & set(va.tolist())
    assert np.array_equal(te, np.arange(50000, 60000))  # all of it, in file order
    old_tr = np.random.default_rng(0).permutation(60000)[:25000]
    assert int((old_tr >= 50000).sum()) == 4142  # the figure quoted in the protocol's note
    again = split_indices(60000, 25000, 25000, 10000, 0, 50000)
    assert all(np.array_equal(u, v) for u, v in zip((tr, va, te), again, strict=True))
    sub = split_indices(60000, 100, 100, 300, 0, 50000)[2]
    assert len(sub) == 300 and sub.min() >= 50000 and np.all(np.diff(sub) > 0)
    with pytest.raises(
        DatasetError, match="training set has 50000 examples and its test set 10000"
    ):
        split_indices(60000, 40000, 20000, 10000, 0, 50000, "cifar10")
    pooled = split_indices(600, 200, 50, 50, 0)  # the pool, as every other protocol cuts it
    perm = np.random.default_rng(0).permutation(600)
    assert all(
        np.array_equal(u, v) for u, v in zip(pooled, (perm[:200], perm[200:250], perm[250:300]))
    )


def test_official_needs_a_dataset_with_a_test_set() -> None:
    from nasrepro.bench.harness import DatasetError, load_splits

    with pytest.raises(DatasetError, match="'mnist1d' has no official test set"):
        load_splits("mnist1d", 200, 50, 50, 0, test_split="official")

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
    "cifar10-nb201": "448ce5a7f4884ff592ac5b4b17aea4a7c9b1a2e456a6e81e6ebdab8158124d2f",
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

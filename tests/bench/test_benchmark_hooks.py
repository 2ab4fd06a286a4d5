"""Benchmark hooks: provenance() and protocol, for tables and surrogates, and their use."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from nasrepro.bench.sim import BenchmarkSpec, benchmark_info, validate
from nasrepro.bench.sim._validate import ValidateReport, _retrain
from nasrepro.tables import Protocol, Table, TableError, TabularBenchmark, get_benchmark
from nasrepro.tables._format import SMALL_DATASETS, header_digest

CHEAP_CHAIN = "conv3x3@0.5|skip@0.5"


@pytest.fixture(scope="module")
def surrogate_bench():  # type: ignore[no-untyped-def]
    return get_benchmark("chain-mnist1d-tiny-surrogate")


def _with_protocol_edit(src: Path, dst: Path) -> Path:
    """A copy of ``src`` whose protocol JSON no longer hashes to its recorded id.

    The header digest is recomputed, so the file opens: only the protocol is wrong.
    """
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        proto = json.loads(str(f.attrs["protocol"]))
        proto["lr"] = proto["lr"] * 2
        f.attrs["protocol"] = json.dumps(proto, sort_keys=True, separators=(",", ":"))
        small = {k: f[k][()] for k in SMALL_DATASETS}
        f.attrs["header_sha256"] = header_digest(dict(f.attrs), small)
    return dst


def test_table_provenance_and_protocol(smoke_table: Table) -> None:
    bench = TabularBenchmark(smoke_table, seed_mode="mean")
    assert bench.provenance() == {
        "table": str(smoke_table.path),
        "protocol_id": smoke_table.protocol_id,
        "metrics_sha256": smoke_table.attrs["metrics_sha256"],
        "seed_mode": "mean",
        "cost_model": "recorded",
    }
    assert isinstance(bench.protocol, Protocol)
    assert bench.protocol.id == smoke_table.protocol_id and bench.protocol.name == "mnist1d-smoke"


def test_surrogate_provenance_and_protocol(surrogate_bench) -> None:  # type: ignore[no-untyped-def]
    meta = surrogate_bench.model.metadata_
    prov = surrogate_bench.provenance()
    assert prov["protocol_id"] == meta["protocol_id"] == surrogate_bench.protocol.id
    assert prov["surrogate"]["training_data_sha256"] == meta["training_data_sha256"]
    assert prov["surrogate"]["model"] == meta["model"]
    info = benchmark_info(surrogate_bench)
    assert info["protocol_id"] == meta["protocol_id"] and "table" not in info
    json.dumps(info)  # results.json must be able to hold it


def test_a_protocol_that_does_not_hash_to_the_tables_id_is_refused(
    smoke_table_path: Path, tmp_path: Path
) -> None:
    bad = _with_protocol_edit(smoke_table_path, tmp_path / "bad.h5")
    with pytest.raises(TableError, match="rebuild the table"):
        TabularBenchmark(Table.open(bad)).protocol  # noqa: B018
    # validate refuses before any run (no reference is even looked for), as reproduce does
    with pytest.raises(TableError, match=r"hashes to [0-9a-f]{12}, not its recorded id"):
        validate("nasrepro.strategies:RandomSearch", BenchmarkSpec(table=str(bad)), seeds=1)


def test_a_surrogate_benchmarks_incumbents_are_retrained(surrogate_bench) -> None:  # type: ignore[no-untyped-def]
    report = ValidateReport("s", surrogate_bench.name, "1x", 1, [], 0, (0, 0), 0, 1, 1)
    _retrain(
        report, surrogate_bench, surrogate_bench.protocol, [(3, CHEAP_CHAIN), (4, None)], "cpu"
    )
    assert report.retrain_note == "" and report.build_gaps == {}
    (r,) = report.retrained
    predicted = surrogate_bench.query(CHEAP_CHAIN, seed=0)  # its answer for the same seed
    assert (r.run_seed, r.arch, r.train_seed) == (3, CHEAP_CHAIN, 0)
    assert (r.table_valid_acc, r.table_test_acc) == (predicted.valid_acc, predicted.test_acc)
    assert r.table_mean_test_acc == surrogate_bench.final_test_acc(CHEAP_CHAIN)
    assert math.isfinite(r.real_valid_acc) and 10.0 < r.real_test_acc <= 100.0
    assert np.isfinite(r.wall_s)

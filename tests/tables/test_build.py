"""Building tables from real sweeps: round trip, layout, refusals, partial tables."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from tables_support import SEEDS, canonical_cells

from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import (
    MANIFEST_FORMAT,
    METRIC_NAMES,
    MissingEntryError,
    SweepManifest,
    Table,
    TableError,
    TrialResult,
    build,
    get_protocol,
    iter_chunks,
    read_chunk,
    read_manifest,
    write_chunk,
    write_json_atomic,
)
from nasrepro.tables._format import metrics_digest


def _f32(x: float) -> float:
    return float(np.float32(x))


def test_round_trip(table: Table, sweep_results: dict[tuple[str, int], TrialResult]) -> None:
    assert len(sweep_results) == len(canonical_cells()) * len(SEEDS)
    for (arch, seed), r in sweep_results.items():
        q = table.query(arch, seed=seed)
        assert q.arch == arch and q.seed == seed and q.n_seeds == 1
        assert q.epoch == r.n_epochs == table.final_epoch
        for m in METRIC_NAMES:
            assert getattr(q, m) == _f32(r.final[m]), m
        assert q.train_time_s == pytest.approx(r.train_time_s, rel=1e-5)
        assert (q.params, q.flops) == (r.params, r.flops)
        for e in table.epochs:
            qe = table.query(arch, epoch=e, seed=seed)
            assert qe.valid_acc == _f32(r.history["valid_acc"][e - 1])
        np.testing.assert_array_equal(
            table.curve(arch, "test_acc", seed=seed), np.float32(r.history["test_acc"])
        )
    for arch in canonical_cells():
        mean = table.query(arch)
        per = [sweep_results[arch, s] for s in SEEDS]
        assert mean.seed is None and mean.n_seeds == len(SEEDS)
        assert mean.test_acc == pytest.approx(np.mean([_f32(r.final["test_acc"]) for r in per]))
        assert mean.per_seed_test_acc == tuple(_f32(r.final["test_acc"]) for r in per)
        assert mean.seeds == tuple(SEEDS)


def test_layout(table_path: Path, smoke_sweep: Path) -> None:
    manifest = json.loads((smoke_sweep / "sweep.json").read_text())
    space = get_space("cell")
    with h5py.File(table_path, "r") as f:
        assert f.attrs["schema_version"] == 1
        assert f.attrs["space"] == "cell"
        assert json.loads(f.attrs["protocol"]) == manifest["protocol"]
        assert f.attrs["protocol_id"] == manifest["protocol_id"]
        assert f.attrs["device"] == "cpu"
        assert json.loads(f.attrs["devices"]) == {str(s): "cpu" for s in SEEDS}
        assert "torch" in json.loads(f.attrs["training_versions"])
        assert f.attrs["nasrepro_version"]
        assert f.attrs["created"]
        metrics = f["metrics"]
        assert metrics.dtype == np.float32 and metrics.compression in ("gzip", "lzf")
        assert metrics.shape == (15625, len(SEEDS), manifest["protocol"]["epochs"], 7)
        assert f.attrs["metrics_sha256"] == metrics_digest(metrics[()])
        np.testing.assert_array_equal(f["canonical"][()], space.canonical_indices())
        assert [b.decode() for b in f["metric_names"][()]] == list(METRIC_NAMES)
        assert f["static"].shape == (15625, 3)
        archs = [b.decode() for b in f["archs"][()]]
        assert archs[:3] == [CellArch.from_index(i).to_string() for i in range(3)]
        trained = np.isfinite(metrics[:, 0, -1, 3])
        reps = [CellArch.from_string(a).index for a in canonical_cells()]
        assert sorted(np.flatnonzero(trained).tolist()) == sorted(reps)


def test_every_cell_resolves(table: Table) -> None:
    canon = get_space("cell").canonical_indices()
    rows = table.rows(np.arange(15625))
    np.testing.assert_array_equal(rows, canon)


def test_isomorphic_strings_give_identical_rows(table: Table) -> None:
    canon = get_space("cell").canonical_indices()
    checked = 0
    for arch in canonical_cells():
        rep = CellArch.from_string(arch).index
        partners = np.flatnonzero((canon == rep) & (np.arange(15625) != rep))
        assert partners.size, arch
        ref = table.query(arch)
        for i in partners[:: max(1, partners.size // 5)].tolist():
            s = CellArch.from_index(i).to_string()
            assert s != arch
            assert table.query(s) == ref
            assert table.query(CellArch.from_index(i)) == ref
            assert table.query(i, seed=SEEDS[1]) == table.query(arch, seed=SEEDS[1])
            checked += 1
        many = table.query_many([CellArch.from_index(i).to_string() for i in partners])
        assert np.all(many.index == rep)
        assert np.all(many.test_acc == ref.test_acc)
    assert checked >= len(canonical_cells())


def _rewrite(sweep_dir: Path, chunk: Path, **changes: object) -> None:
    payload = read_chunk(chunk)
    results = [dataclasses.replace(r, **changes) for r in payload["results"]]
    write_chunk(
        sweep_dir,
        payload["seed"],
        payload["chunk"],
        results[0].protocol_id,
        results[0].space,
        results,
    )


def test_missing_results_are_reported_and_refused(sweep_copy: Path, tmp_path: Path) -> None:
    chunks = list(iter_chunks(sweep_copy))
    lost = read_chunk(chunks[-1])["results"]
    chunks[-1].unlink()
    with pytest.raises(TableError, match="missing 3") as e:
        build(sweep_copy, tmp_path / "t.h5")
    assert lost[0].arch in str(e.value) and "allow-partial" in str(e.value)
    assert not (tmp_path / "t.h5").exists()

    report = build(sweep_copy, tmp_path / "t.h5", allow_partial=True)
    assert not report.complete and report.n_found == report.n_expected - 3
    assert {(r.arch, r.seed) for r in lost} == set(report.missing)
    t = Table.open(tmp_path / "t.h5")
    r = lost[0]
    with pytest.raises(MissingEntryError, match="partial"):
        t.query(r.arch, seed=r.seed)
    other = [s for s in SEEDS if s != r.seed][0]
    assert t.query(r.arch).n_seeds == 1
    assert t.query(r.arch).test_acc == t.query(r.arch, seed=other).test_acc
    assert t.coverage()[r.seed] == (len(canonical_cells()) - 3, 6466)
    res = t.query_many(canonical_cells(), seed=r.seed, missing="nan")
    assert int((res.n_seeds == 0).sum()) == 3 and int(np.isnan(res.test_acc).sum()) == 3
    with pytest.raises(MissingEntryError):
        t.query_many(canonical_cells(), seed=r.seed)


def test_build_from_chosen_seeds(
    smoke_sweep: Path, table: Table, tmp_path: Path, sweep_copy: Path
) -> None:
    keep = SEEDS[0]
    report = build(smoke_sweep, tmp_path / "one.h5", seeds=[keep])
    assert report.complete and report.seeds == (keep,)
    one = Table.open(tmp_path / "one.h5")
    assert one.seeds == (keep,)
    for arch in canonical_cells():
        a, b = one.query(arch, seed=keep), table.query(arch, seed=keep)
        assert (a.valid_acc, a.test_acc, a.train_time_s) == (
            b.valid_acc,
            b.test_acc,
            b.train_time_s,
        )
    with pytest.raises(TableError, match="not in the manifest seeds"):
        build(smoke_sweep, tmp_path / "bad.h5", seeds=[99])
    # The finished seed of an unfinished sweep builds without --allow-partial.
    chunks = [c for c in iter_chunks(sweep_copy) if read_chunk(c)["results"][0].seed != keep]
    chunks[0].unlink()
    with pytest.raises(TableError, match="missing"):
        build(sweep_copy, tmp_path / "t.h5")
    assert build(sweep_copy, tmp_path / "t.h5", seeds=[keep]).complete


def test_refuses_mixed_protocols(sweep_copy: Path, tmp_path: Path) -> None:
    chunk = next(iter(iter_chunks(sweep_copy)))
    _rewrite(sweep_copy, chunk, protocol_id="0" * 64)
    with pytest.raises(TableError, match="refusing to mix protocols"):
        build(sweep_copy, tmp_path / "t.h5")


def test_refuses_mixed_manifests(smoke_sweep: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    manifest = json.loads((smoke_sweep / "sweep.json").read_text())
    p = get_protocol("mnist1d-smoke")
    write_json_atomic(
        other / "sweep.json", {**manifest, "protocol": p.to_dict(), "protocol_id": p.id}
    )
    with pytest.raises(TableError, match="refusing to mix protocols"):
        build([smoke_sweep, other], tmp_path / "t.h5")
    write_json_atomic(other / "sweep.json", {**manifest, "space": "chain"})
    with pytest.raises(TableError, match="refusing to mix spaces"):
        build([smoke_sweep, other], tmp_path / "t.h5")


def test_refuses_cpu_and_gpu_in_one_seed(sweep_copy: Path, tmp_path: Path) -> None:
    chunk = next(iter(iter_chunks(sweep_copy)))
    _rewrite(sweep_copy, chunk, device="cuda")
    with pytest.raises(TableError, match="mixes results trained on \\['cpu', 'cuda'\\]"):
        build(sweep_copy, tmp_path / "t.h5")


def test_one_device_per_seed_is_recorded(sweep_copy: Path, tmp_path: Path) -> None:
    for chunk in iter_chunks(sweep_copy):
        if read_chunk(chunk)["seed"] == SEEDS[1]:
            _rewrite(sweep_copy, chunk, device="cuda")
    build(sweep_copy, tmp_path / "t.h5")
    t = Table.open(tmp_path / "t.h5")
    assert t.device == "mixed"
    assert json.loads(t.attrs["devices"]) == {str(SEEDS[0]): "cpu", str(SEEDS[1]): "cuda"}


def test_duplicates(sweep_copy: Path, tmp_path: Path) -> None:
    chunk = next(iter(iter_chunks(sweep_copy)))
    payload = read_chunk(chunk)
    write_chunk(sweep_copy, payload["seed"], 99, payload["protocol_id"], "cell", payload["results"])
    assert build(sweep_copy, tmp_path / "t.h5").n_duplicates == len(payload["results"])
    r = payload["results"][0]
    hist = {**r.history, "test_acc": [v + 1 for v in r.history["test_acc"]]}
    write_chunk(
        sweep_copy,
        payload["seed"],
        98,
        payload["protocol_id"],
        "cell",
        [dataclasses.replace(r, history=hist)],
    )
    with pytest.raises(TableError, match="conflicting results"):
        build(sweep_copy, tmp_path / "t.h5")


def test_shards_in_several_directories(smoke_sweep: Path, table: Table, tmp_path: Path) -> None:
    manifest = json.loads((smoke_sweep / "sweep.json").read_text())
    dirs = []
    for seed in SEEDS:
        d = tmp_path / f"seed{seed}"
        write_json_atomic(d / "sweep.json", {**manifest, "seeds": [seed]})
        for chunk in iter_chunks(smoke_sweep):
            p = read_chunk(chunk)
            if p["seed"] == seed:
                write_chunk(d, seed, p["chunk"], p["protocol_id"], "cell", p["results"])
        dirs.append(d)
    build(dirs, tmp_path / "t.h5")
    t = Table.open(tmp_path / "t.h5")
    np.testing.assert_array_equal(t.metrics, table.metrics)
    assert t.attrs["metrics_sha256"] == table.attrs["metrics_sha256"]


def test_not_a_sweep(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no sweep.json"):
        build(tmp_path, tmp_path / "t.h5")


def test_unbounded_space_rows_are_the_sample(
    smoke_sweep: Path, sweep_results: dict[tuple[str, int], TrialResult], tmp_path: Path
) -> None:
    """Chain tables: one row per sampled arch, canonical = arange.

    The curves are the real cell results relabelled as chain samples (the layout is
    what is tested here, not the training).
    """
    space = get_space("chain")
    rng = np.random.default_rng(0)
    archs = list(dict.fromkeys(space.sample(rng).to_string() for _ in range(4)))[:3]
    manifest = json.loads((smoke_sweep / "sweep.json").read_text())
    d = tmp_path / "chain"
    write_json_atomic(d / "sweep.json", {**manifest, "space": "chain", "archs": archs})
    real = [r for (_, s), r in sorted(sweep_results.items()) if s == SEEDS[0]]
    results = [dataclasses.replace(r, arch=a, space="chain") for r, a in zip(real, archs)]
    write_chunk(d, SEEDS[0], 0, manifest["protocol_id"], "chain", results)
    report = build(d, tmp_path / "chain.h5", allow_partial=True)
    assert report.n_rows == 3 and len(report.missing) == 3  # seed 1 not trained
    t = Table.open(tmp_path / "chain.h5")
    np.testing.assert_array_equal(t.canonical, np.arange(3))
    assert t.archs == archs
    for a, r in zip(archs, results):
        assert t.query(a).test_acc == _f32(r.final["test_acc"])
    other = space.sample(np.random.default_rng(99)).to_string()
    assert other not in archs
    with pytest.raises(MissingEntryError):
        t.query(other)


def test_a_manifest_without_format_reads_as_version_1(
    sweep_copy: Path, table: Table, tmp_path: Path
) -> None:
    """What older writers left out (format, sample, sample_seed, versions) defaults."""
    manifest = json.loads((sweep_copy / "sweep.json").read_text())
    assert manifest["format"] == MANIFEST_FORMAT == 1
    legacy = {k: manifest[k] for k in ("space", "protocol", "protocol_id", "archs", "seeds")}
    write_json_atomic(sweep_copy / "sweep.json", {**legacy, "chunk_size": manifest["chunk_size"]})
    m = read_manifest(sweep_copy)
    assert m.format == 1 and m.sample is None and m.sample_seed == 0 and m.versions == {}
    assert (
        m.protocol == get_protocol("synthetic-smoke") and m.protocol_id == manifest["protocol_id"]
    )
    build(sweep_copy, tmp_path / "t.h5")  # not inside the sweep: refused there
    t = Table.open(tmp_path / "t.h5")
    np.testing.assert_array_equal(t.metrics, table.metrics)
    assert t.attrs["protocol"] == table.attrs["protocol"]


def test_committed_manifests_round_trip() -> None:
    """The sweeps under benchmarks/data/sweeps read as typed manifests and write back unchanged."""
    dirs = sorted(
        (Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "sweeps").iterdir()
    )
    assert dirs, "benchmarks/data/sweeps holds the chain and hierarchical sweeps"
    for d in dirs:
        raw = json.loads((d / "sweep.json").read_text())
        m = read_manifest(d)
        assert m.to_dict() == raw and m.protocol == get_protocol("mnist1d-tiny")
        assert SweepManifest.from_dict(m.to_dict()) == m


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: {k: v for k, v in m.items() if k != "seeds"}, r"missing fields \['seeds'\]"),
        (lambda m: {**m, "format": 2}, "format 2 is newer than this nasrepro reads.*upgrade"),
        (lambda m: {**m, "format": "1"}, "unknown manifest format '1'"),
        (lambda m: {**m, "protocol": {**m["protocol"], "epochs": 3}}, "hashes to .*not its"),
        (lambda m: {**m, "protocol": {"name": "x"}}, "bad protocol: the protocol lacks"),
        (lambda m: {**m, "archs": "abc"}, "archs is not a list of strings"),
        (lambda m: {**m, "chunk_size": 0}, "chunk_size is not a positive integer"),
        (lambda m: [m], "a manifest is a JSON object"),
    ],
)
def test_invalid_manifest_names_the_file_and_the_fix(
    sweep_copy: Path,
    tmp_path: Path,
    edit,
    match: str,  # type: ignore[no-untyped-def]
) -> None:
    path = sweep_copy / "sweep.json"
    write_json_atomic(path, edit(json.loads(path.read_text())))
    with pytest.raises(TableError, match=match) as e:
        build(sweep_copy, tmp_path / "t.h5")
    assert str(path) in str(e.value)
    assert "upgrade nasrepro" in str(e.value) or "run the same `nasrepro sweep`" in str(e.value)
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize(
    ("metric", "value", "rule"),
    [
        ("valid_acc", 1e9, "an accuracy lies in \\[0, 100\\] percent"),
        ("test_acc", -0.5, "an accuracy lies in \\[0, 100\\] percent"),
        ("train_acc", float("inf"), "an accuracy lies in \\[0, 100\\] percent"),
        ("valid_loss", -1.0, "a loss is >= 0"),
        ("epoch_time_s", -2.0, "a time is >= 0"),
    ],
)
def test_a_chunk_holding_an_impossible_value_is_refused(
    sweep_copy: Path, tmp_path: Path, metric: str, value: float, rule: str
) -> None:
    """A hand-edited or damaged chunk whose numbers no training produces is named, with
    the value, the epoch and the rule, instead of landing in the table."""
    chunk = next(iter(iter_chunks(sweep_copy)))
    payload = read_chunk(chunk)
    r = payload["results"][0]
    hist = {**r.history, metric: [*r.history[metric][:-1], value]}
    bad = [dataclasses.replace(r, history=hist), *payload["results"][1:]]
    write_chunk(sweep_copy, payload["seed"], payload["chunk"], payload["protocol_id"], "cell", bad)
    with pytest.raises(TableError, match="not a readable sweep chunk") as e:
        build(sweep_copy, tmp_path / "t.h5")
    assert f"{metric} {value:g} at epoch {r.n_epochs} ({rule.replace(chr(92), '')})" in str(e.value)
    assert not (tmp_path / "t.h5").exists()


def test_a_diverged_loss_is_kept(sweep_copy: Path, tmp_path: Path) -> None:
    """NaN and infinite losses are what a diverged run records: they are data, not damage."""
    chunk = next(iter(iter_chunks(sweep_copy)))
    payload = read_chunk(chunk)
    r = payload["results"][0]
    hist = {**r.history, "train_loss": [float("nan")] * r.n_epochs}
    hist["valid_loss"] = [float("inf")] * r.n_epochs
    bad = [dataclasses.replace(r, history=hist), *payload["results"][1:]]
    write_chunk(sweep_copy, payload["seed"], payload["chunk"], payload["protocol_id"], "cell", bad)
    assert read_chunk(chunk)["results"][0].history["valid_loss"][-1] == float("inf")
    assert build(sweep_copy, tmp_path / "t.h5").complete

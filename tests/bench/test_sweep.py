"""Sweeps: completeness, resume after SIGKILL, shards, Ray, MLflow tracking."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from nasrepro.bench.harness._sweep import SweepError, load_results, plan_sweep, sweep
from nasrepro.bench.tracking import TrackingWarning
from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import iter_chunks

SPACE = get_space("cell")
ARCHS = [CellArch.from_index(i).to_string() for i in SPACE.representative_indices()[100:106]]


def _key(results: list) -> dict:
    return {(r.arch, r.seed): r for r in results}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("ref")
    sweep("cell", "synthetic-smoke", [0, 1], out, archs=ARCHS, chunk_size=2)
    return _key(load_results(out))


def test_sweep_trains_every_arch_once_per_seed(reference: dict) -> None:
    assert set(reference) == {(a, s) for a in ARCHS for s in (0, 1)}


def test_plan_covers_all_canonical_classes() -> None:
    plan = plan_sweep("cell", "synthetic-smoke", [0])
    assert len(plan.archs) == 6466 and len(set(plan.archs)) == 6466
    assert all(SPACE.canonical(SPACE.parse(a)).to_string() == a for a in plan.archs[:200])


def test_unbounded_space_needs_a_sample() -> None:
    with pytest.raises(SweepError, match="--sample"):
        plan_sweep("chain", "synthetic-smoke", [0])
    plan = plan_sweep("chain", "synthetic-smoke", [0], sample=7, sample_seed=3)
    assert len(set(plan.archs)) == 7
    assert plan.archs == plan_sweep("chain", "synthetic-smoke", [0], sample=7, sample_seed=3).archs


def test_resume_skips_finished_chunks(tmp_path: Path, reference: dict) -> None:
    first = sweep("cell", "synthetic-smoke", [0, 1], tmp_path, archs=ARCHS, chunk_size=2)
    again = sweep("cell", "synthetic-smoke", [0, 1], tmp_path, archs=ARCHS, chunk_size=2)
    assert first.units_done == 6 and again.units_done == 0 and again.units_skipped == 6
    assert _key(load_results(tmp_path)) == reference


def test_shards_into_one_dir_partition_the_work(tmp_path: Path, reference: dict) -> None:
    a = sweep("cell", "synthetic-smoke", [0, 1], tmp_path, archs=ARCHS, chunk_size=2, shard=(0, 2))
    b = sweep("cell", "synthetic-smoke", [0, 1], tmp_path, archs=ARCHS, chunk_size=2, shard=(1, 2))
    assert a.units_done + b.units_done == 6
    assert not set(a.chunk_files) & set(b.chunk_files)
    assert _key(load_results(tmp_path)) == reference


def test_a_file_in_the_way_is_refused_before_any_training(tmp_path: Path) -> None:
    """A file named ``chunks`` in the sweep directory raised FileExistsError after the
    first chunk had trained, and that chunk was lost (a bad-input audit)."""
    (tmp_path / "chunks").write_text("not a folder")
    with pytest.raises(SweepError, match="chunks is a file where the sweep keeps its chunk"):
        sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:1])
    assert (tmp_path / "chunks").read_text() == "not a folder"
    with pytest.raises(SweepError, match="is a file, not a sweep directory"):
        sweep("cell", "synthetic-smoke", [0], tmp_path / "chunks", archs=ARCHS[:1])


def test_foreign_sweep_dir_is_refused(tmp_path: Path) -> None:
    sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:1])
    with pytest.raises(SweepError, match="different sweep"):
        sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:2])


def test_sigkill_then_resume_loses_nothing(tmp_path: Path, reference: dict) -> None:
    archs_file = tmp_path / "archs.txt"
    archs_file.write_text("\n".join(ARCHS))
    out = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "nasrepro.bench.cli",
        "sweep",
        "--protocol",
        "synthetic-smoke",
        "--seeds",
        "0,1",
        "--out",
        str(out),
        "--archs",
        str(archs_file),
        "--chunk-size",
        "1",
        "--no-track",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while len(list(iter_chunks(out))) < 2 and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(iter_chunks(out)))
    assert 2 <= done_before < 12, "the kill must land part-way"
    subprocess.run(cmd, check=True, capture_output=True)
    results = load_results(out)
    assert len(results) == 12  # every arch-seed exactly once
    assert _key(results) == reference


def test_ray_executor_matches_local(tmp_path: Path, reference: dict) -> None:
    pytest.importorskip("ray")
    # Two units (one per seed), one per Ray worker: starting the cluster and a worker
    # dominates the cost, so a small sweep tests the same thing.
    sweep(
        "cell",
        "synthetic-smoke",
        [0, 1],
        tmp_path,
        archs=ARCHS[:2],
        chunk_size=2,
        executor="ray",
        workers=2,
    )
    got = _key(load_results(tmp_path))
    assert set(got) == {(a, s) for a in ARCHS[:2] for s in (0, 1)}
    assert got == {k: reference[k] for k in got}


def test_an_unreachable_ray_cluster_is_refused_in_seconds(tmp_path: Path) -> None:
    """ray.init retried an address where nothing listens for minutes, warning, never
    raising; a TCP probe refuses it first."""
    pytest.importorskip("ray")
    from nasrepro.bench.harness import SweepError

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(SweepError, match=f"cannot reach the Ray cluster at '127.0.0.1:{port}'"):
        sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:1], executor="ray",
              ray_address=f"127.0.0.1:{port}", progress=False, track=False)  # fmt: skip
    assert time.monotonic() - t0 < 30


def test_mlflow_records_the_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    sweep("cell", "synthetic-smoke", [0], tmp_path / "s", archs=ARCHS[:2], chunk_size=1, track=True)
    import mlflow

    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("nasrepro")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["protocol"] == "synthetic-smoke"
    assert run.data.metrics["archs_trained"] == 2
    assert run.data.tags["protocol_id"] and run.data.tags["version.torch"]
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "sweep.json" in arts and "chunks" in arts


def test_unreachable_mlflow_warns_once_and_keeps_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = sweep(
            "cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:2], chunk_size=1, track=True
        )
    tracking = [w for w in caught if issubclass(w.category, TrackingWarning)]
    assert len(tracking) == 1 and "unreachable" in str(tracking[0].message)
    assert report.archs_trained == 2 and len(load_results(tmp_path)) == 2
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert manifest["protocol"]["name"] == "synthetic-smoke"

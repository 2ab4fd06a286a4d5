"""Sweeps: a second process on the same shard refuses (a lock), and damaged chunks retrain.

Real sweeps of a few cells under ``synthetic-smoke``: the concurrent one is a
``nasrepro sweep`` process, the second a call of :func:`sweep` in this process.
"""

from __future__ import annotations

import gzip
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasrepro.bench.harness._sweep import SweepError, load_results, plan_sweep, sweep
from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import chunk_path, get_protocol, read_manifest, write_json_atomic

SPACE = get_space("cell")
ARCHS = [CellArch.from_index(i).to_string() for i in SPACE.representative_indices()[300:316]]
#: Enough cells that a sweep outlasts the start of a second ``nasrepro`` process.
MANY_ARCHS = [CellArch.from_index(i).to_string() for i in SPACE.representative_indices()[400:500]]
NASREPRO = [sys.executable, "-m", "nasrepro.bench.cli"]


def _start_sweep(out: Path, archs_file: Path, archs: list[str] = ARCHS) -> subprocess.Popen[str]:
    archs_file.write_text("\n".join(archs) + "\n")
    return subprocess.Popen(
        [*NASREPRO, "sweep", "--space", "cell", "--protocol", "synthetic-smoke", "--seeds", "0"]
        + ["--archs", str(archs_file), "--chunk-size", "1", "--out", str(out)]
        + ["--no-track", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_chunk(out: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not any((out / "chunks").glob("*.json.gz")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep wrote no chunk in 120 s"
        time.sleep(0.05)


def _n_chunks(out: Path) -> int:
    return len(list((out / "chunks").glob("*.json.gz")))


def test_a_second_sweep_of_the_same_shard_refuses(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = _start_sweep(out, tmp_path / "archs.txt")
    try:
        _wait_for_first_chunk(out, first)
        with pytest.raises(SweepError, match=rf"another sweep \(PID {first.pid}\) is running"):
            sweep("cell", "synthetic-smoke", [0], out, archs=ARCHS, chunk_size=1)
    except BaseException:
        first.kill()
        raise
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0
    assert _n_chunks(out) == len(ARCHS)
    # once the holder is gone the shard is free again, and everything is done
    again = sweep("cell", "synthetic-smoke", [0], out, archs=ARCHS, chunk_size=1)
    assert again.units_done == 0 and again.units_skipped == len(ARCHS)


@pytest.mark.slow
def test_the_cli_names_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = _start_sweep(out, tmp_path / "archs.txt", MANY_ARCHS)
    try:
        _wait_for_first_chunk(out, first)
        second = subprocess.run(
            [*NASREPRO, "sweep", "--space", "cell", "--protocol", "synthetic-smoke"]
            + ["--seeds", "0", "--archs", str(tmp_path / "archs.txt"), "--chunk-size", "1"]
            + ["--out", str(out), "--no-track", "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        first.kill()
        first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL  # it was still running: the test is valid
    assert second.returncode == 2, second.stderr
    assert f"another sweep (PID {first.pid}) is running shard 0/1" in second.stderr
    assert "Traceback" not in second.stderr


def test_a_killed_holder_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    first = _start_sweep(out, tmp_path / "archs.txt")
    _wait_for_first_chunk(out, first)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    assert (out / ".lock-shard-0-of-1").read_text().strip() == str(first.pid)  # left behind
    done_before = _n_chunks(out)
    report = sweep("cell", "synthetic-smoke", [0], out, archs=ARCHS, chunk_size=1)
    assert report.units_skipped == done_before and report.units_done == len(ARCHS) - done_before
    assert sorted(r.arch for r in load_results(out)) == sorted(ARCHS)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_retrains_a_truncated_chunk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    archs = ARCHS[:3]
    sweep("cell", "synthetic-smoke", [0], tmp_path, archs=archs, chunk_size=1)
    before = {r.arch: r for r in load_results(tmp_path)}
    broken = chunk_path(tmp_path, 0, 1)
    _truncate(broken)
    with pytest.raises((EOFError, OSError)):  # it really is damaged
        gzip.decompress(broken.read_bytes())
    with caplog.at_level(logging.WARNING, logger="nasrepro.bench.harness._sweep"):
        report = sweep("cell", "synthetic-smoke", [0], tmp_path, archs=archs, chunk_size=1)
    assert report.units_done == 1 and report.units_skipped == 2
    assert report.chunk_files == [broken]
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(broken) in warning and "retraining it" in warning
    aside = broken.with_name(broken.name.replace(".json.gz", ".corrupt"))
    assert aside.is_file()  # kept aside, out of the way of `table build`
    after = {r.arch: r for r in load_results(tmp_path)}
    assert after == before  # the retrained chunk is identical, and nothing is lost


def test_resume_retrains_a_chunk_of_another_unit(tmp_path: Path) -> None:
    """A whole, readable file that holds the wrong architectures is not counted as done."""
    archs = ARCHS[:2]
    sweep("cell", "synthetic-smoke", [0], tmp_path, archs=archs, chunk_size=1)
    chunk_path(tmp_path, 0, 0).write_bytes(chunk_path(tmp_path, 0, 1).read_bytes())
    report = sweep("cell", "synthetic-smoke", [0], tmp_path, archs=archs, chunk_size=1)
    assert report.units_done == 1
    assert sorted(r.arch for r in load_results(tmp_path)) == sorted(archs)


def _manifest(archs: list[str]) -> dict:  # type: ignore[type-arg]
    return (
        plan_sweep("cell", "synthetic-smoke", [0], archs=archs, chunk_size=1).manifest().to_dict()
    )


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: {k: v for k, v in m.items() if k != "chunk_size"}, "missing fields"),
        (lambda m: {**m, "format": 7}, "format 7 is newer than this nasrepro reads"),
        (lambda m: {**m, "protocol": {**m["protocol"], "lr": 0.5}}, "hashes to"),
        (lambda m: "not a manifest", "a manifest is a JSON object"),
    ],
)
def test_resume_refuses_an_invalid_manifest(tmp_path: Path, edit, match: str) -> None:  # type: ignore[no-untyped-def]
    """Before any training, the resume names the manifest, what is wrong and the fix."""
    write_json_atomic(tmp_path / "sweep.json", edit(_manifest(ARCHS[:1])))
    with pytest.raises(SweepError, match=match) as e:
        sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:1], chunk_size=1)
    assert str(tmp_path / "sweep.json") in str(e.value)
    assert "upgrade nasrepro" in str(e.value) or "delete it and run the same" in str(e.value)
    assert not (tmp_path / "chunks").exists()


def test_resume_reads_a_manifest_without_format(tmp_path: Path) -> None:
    """A version-1 manifest from before ``format`` (and sample, versions) was written."""
    full = _manifest(ARCHS[:1])
    legacy = {k: full[k] for k in ("space", "protocol", "protocol_id", "archs", "seeds")}
    write_json_atomic(tmp_path / "sweep.json", {**legacy, "chunk_size": 1})
    report = sweep("cell", "synthetic-smoke", [0], tmp_path, archs=ARCHS[:1], chunk_size=1)
    assert report.units_done == 1
    assert read_manifest(tmp_path).protocol == get_protocol("synthetic-smoke")

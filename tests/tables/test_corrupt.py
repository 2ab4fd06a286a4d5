"""Damaged, foreign and newer-schema files raise TableError, never garbage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from tables_support import canonical_cells

from nasrepro.tables import Table, TableError


def _open_and_read(path: Path) -> None:
    t = Table.open(path)
    t.query(canonical_cells()[0])


@pytest.mark.parametrize("keep", [0, 8, 0.1, 0.25, 0.5, 0.75, 0.95, -1])
def test_truncated(table_path: Path, tmp_path: Path, keep: float) -> None:
    data = table_path.read_bytes()
    n = int(keep * len(data)) if isinstance(keep, float) else keep % len(data)
    bad = tmp_path / "cut.h5"
    bad.write_bytes(data[:n])
    with pytest.raises(TableError, match="cut.h5") as e:
        _open_and_read(bad)
    assert any(w in str(e.value) for w in ("truncated", "corrupt", "HDF5"))


def test_bit_flip_in_metrics_chunk(table_path: Path, tmp_path: Path) -> None:
    with h5py.File(table_path, "r") as f:
        d = f["metrics"]
        info = d.id.get_chunk_info(0)
    data = bytearray(table_path.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0x10
    bad = tmp_path / "flip.h5"
    bad.write_bytes(data)
    t = Table.open(bad)  # the header is intact: open is lazy and succeeds
    with pytest.raises(TableError, match="corrupt"):
        t.query(canonical_cells()[0])


def test_bit_flip_in_signature(table_path: Path, tmp_path: Path) -> None:
    data = bytearray(table_path.read_bytes())
    data[1] ^= 0x01
    bad = tmp_path / "flip.h5"
    bad.write_bytes(data)
    with pytest.raises(TableError, match="cannot be read as HDF5"):
        Table.open(bad)


def test_bit_flips_anywhere_never_crash_or_lie(table_path: Path) -> None:
    """Flip bits all over the file in a child process: each gives TableError or the truth."""
    script = Path(__file__).with_name("flip_check.py")
    proc = subprocess.run(
        [sys.executable, str(script), str(table_path), "300"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"child died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    counts = report["counts"]
    assert counts["garbage"] == 0, report
    assert counts["other"] == 0, report
    assert counts["error"] > 0


def test_values_changed_consistently_fail_the_checksum(table_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "edited.h5"
    shutil.copy(table_path, bad)
    with h5py.File(bad, "r+") as f:
        m = f["metrics"][()]
        m[np.isfinite(m)] += 1.0
        f["metrics"][...] = m
    with pytest.raises(TableError, match="metrics checksum mismatch"):
        _open_and_read(bad)


def test_edited_canonical_fails(table_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "edited.h5"
    shutil.copy(table_path, bad)
    with h5py.File(bad, "r+") as f:
        assert f["canonical"][15624] != 0
        f["canonical"][15624] = 0
    with pytest.raises(TableError, match="row index checksum"):
        _open_and_read(bad)


def test_edited_attribute_fails(table_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "edited.h5"
    shutil.copy(table_path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["protocol"] = json.dumps({"name": "other"})
    with pytest.raises(TableError, match="header checksum"):
        Table.open(bad)


def test_newer_schema(table_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "future.h5"
    shutil.copy(table_path, bad)
    with h5py.File(bad, "r+") as f:
        f.attrs["schema_version"] = 3
    with pytest.raises(TableError, match="schema version 3 is newer.*upgrade nasrepro"):
        Table.open(bad)


def test_foreign_hdf5(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(10)
        f.attrs["title"] = "someone else's file"
    with pytest.raises(TableError, match="not a nasrepro table"):
        Table.open(foreign)
    with h5py.File(foreign, "a") as f:
        f.attrs["schema_version"] = 1
    with pytest.raises(TableError, match="not a complete nasrepro table"):
        Table.open(foreign)


@pytest.mark.parametrize("content", [b"", b"hello, not hdf5\n" * 100, bytes(range(256)) * 40])
def test_not_hdf5(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "junk.h5"
    bad.write_bytes(content)
    with pytest.raises(TableError, match="junk.h5"):
        Table.open(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="no such table file"):
        Table.open(tmp_path / "nope.h5")

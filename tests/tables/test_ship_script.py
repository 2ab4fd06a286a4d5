"""benchmarks/ship_default_table.sh refuses a folder without a sweep before any work."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ship_default_table.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_default_path_names_the_checkout_that_restores_the_chunks() -> None:
    # The shipped table's chunks left the tree; the default is where git restores them.
    assert not (SCRIPT.parents[1] / "data" / "sweeps" / "cell-mnist1d-tiny").exists()
    r = _run()
    assert r.returncode == 2, r.stderr
    assert "git checkout 195f1c6 -- data/sweeps/cell-mnist1d-tiny" in r.stderr
    assert r.stdout == ""


def test_a_folder_without_sweep_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "chunk-0000.json.gz").write_bytes(b"")
    r = _run(str(tmp_path), str(tmp_path / "t.h5"), str(tmp_path / "figs"))
    assert r.returncode == 2
    assert f"{tmp_path} holds no sweep (no sweep.json)" in r.stderr
    assert not (tmp_path / "t.h5").exists() and not (tmp_path / "figs").exists()

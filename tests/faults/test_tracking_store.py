"""An MLflow sqlite store that cannot be written: one warning within a second, results intact.

Before the fix MLflow's retry loop stalled for about 100 s. The read-only locations are
real read-only bind mounts (root); the tests skip where mounting is not permitted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from nasrepro.bench.tracking import TrackingWarning, mlflow_run

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _mount_ro(src: Path, target: Path) -> None:
    """Bind ``src`` read-only at ``target``, or skip the test."""
    target.mkdir()
    steps = [
        ["mount", "--bind", str(src), str(target)],
        ["mount", "-o", "remount,bind,ro", str(target)],
    ]
    for k, cmd in enumerate(steps):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            out = None
            why = str(e)
        else:
            why = out.stderr.strip()
        if out is None or out.returncode != 0:
            if k:
                subprocess.run(["umount", str(target)], capture_output=True, timeout=10)
            pytest.skip(f"cannot make a read-only bind mount here ({why})")
    try:
        (target / "probe").write_text("x")
    except OSError:
        return
    subprocess.run(["umount", str(target)], capture_output=True, timeout=10)
    pytest.skip("the bind mount did not become read-only")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """``(src, ro)``: a writable directory and the same directory mounted read-only."""
    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    yield src, ro
    if ro.exists():  # a bind mount on the same filesystem escapes os.path.ismount
        done = subprocess.run(["umount", str(ro)], capture_output=True, timeout=10)
        if done.returncode != 0 and b"not mounted" not in done.stderr:
            # busy (a database connection left open): detach it now, freed when closed
            subprocess.run(["umount", "-l", str(ro)], capture_output=True, timeout=10)


def _track_once(uri: str | None, cwd: Path) -> tuple[float, list[str], bool]:
    """Open a run, log to it; return (seconds, tracking warnings, whether it was active)."""
    old_cwd, old_uri = Path.cwd(), os.environ.pop("MLFLOW_TRACKING_URI", None)
    if uri is not None:
        os.environ["MLFLOW_TRACKING_URI"] = uri
    os.chdir(cwd)
    t0 = time.monotonic()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with mlflow_run("probe", params={"a": 1}) as run:
                run.log_metrics({"m": 1.0})
                active = run.active
    finally:
        os.chdir(old_cwd)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        if old_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = old_uri
    found = [str(w.message) for w in caught if issubclass(w.category, TrackingWarning)]
    return time.monotonic() - t0, found, active


def test_default_store_in_a_read_only_directory(read_only: tuple[Path, Path]) -> None:
    src, ro = read_only
    _mount_ro(src, ro)
    seconds, found, active = _track_once(None, ro)
    assert seconds < 5, f"took {seconds:.1f}s"
    assert not active
    assert len(found) == 1 and "sqlite:///mlruns.db cannot be written" in found[0]
    assert "Read-only file system" in found[0] and "--no-track" in found[0]
    assert not (src / "mlruns.db").exists()


def test_existing_database_on_a_read_only_path(read_only: tuple[Path, Path]) -> None:
    """A real MLflow database, written first, then mounted read-only."""
    src, ro = read_only
    db = f"sqlite:///{src / 'store.db'}"
    _, found, active = _track_once(db, src)
    assert active and not found, found  # it works while writable
    _mount_ro(src, ro)
    seconds, found, active = _track_once(f"sqlite:///{ro / 'store.db'}", src)
    assert seconds < 5, f"took {seconds:.1f}s"
    assert not active and len(found) == 1 and "cannot be written" in found[0]


def test_a_writable_store_still_tracks(tmp_path: Path) -> None:
    seconds, found, active = _track_once(None, tmp_path)
    assert active and not found and (tmp_path / "mlruns.db").is_file()


def test_cli_train_in_a_read_only_directory(read_only: tuple[Path, Path], tmp_path: Path) -> None:
    """``nasrepro train`` with tracking on, from a read-only working directory."""
    src, ro = read_only
    _mount_ro(src, ro)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "nasrepro.bench.cli", "train", ARCH]
        + ["--protocol", "synthetic-smoke", "--seed", "0", "--json"],
        capture_output=True,
        text=True,
        cwd=ro,
        env=env,
        timeout=300,
    )
    seconds = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    assert seconds < 60, f"took {seconds:.1f}s (MLflow's retries take about 100 s)"
    assert json.loads(out.stdout)["history"]["valid_acc"]  # the result is intact
    # one line of our own, not Python's "file:line: TrackingWarning:" and the source line
    warned = [ln for ln in out.stderr.splitlines() if "MLflow store" in ln]
    assert len(warned) == 1 and warned[0].startswith("nasrepro: warning: MLflow store "), out.stderr
    assert "TrackingWarning" not in out.stderr and "warnings.warn" not in out.stderr
    assert "Traceback" not in out.stderr

"""Fixtures that build broken output locations: read-only, full, and not a directory.

A read-only location is a tmpfs mounted ``ro``, and a full one is a tmpfs of a few KB
(root ignores ``chmod``, so permission bits would not make a location unwritable for
root). Where mounting is not permitted (no root, no mount namespace) the tests that use
them skip with the reason; every mount is unmounted in teardown.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faults_support import FILLER, CliResult


def _mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command here; cannot build a read-only or full location")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], check=True, capture_output=True)


@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``where`` for the block, unmounted after it (or a skip)."""
    _mount_tmpfs(where, options)
    try:
        yield where
    finally:
        _umount(where)


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """An existing, empty directory that cannot be written (a read-only tmpfs)."""
    with _tmpfs(tmp_path / "readonly", "ro,size=64k") as where:
        yield where


@pytest.fixture
def full_dir(tmp_path: Path) -> Iterator[Path]:
    """A full disk: a 16 KiB tmpfs filled to the last block, so any write hits ENOSPC.

    New empty files can still be created (a tmpfs has inodes to spare): only data fails.
    """
    with _tmpfs(tmp_path / "full", "size=16k") as where:
        with open(where / FILLER, "wb", buffering=0) as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 512)
        yield where


@pytest.fixture
def small_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty 64 KiB tmpfs: a write starts and the disk fills part way through it."""
    with _tmpfs(tmp_path / "small", "size=64k") as where:
        yield where


@pytest.fixture
def not_a_dir(tmp_path: Path) -> Path:
    """A regular file: a path under it (``not_a_dir / "x"``) cannot be a directory."""
    f = tmp_path / "regular-file"
    f.write_text("not a directory\n")
    return f


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``nasrepro.bench.cli.main`` in this process; argparse exits become codes."""
    from nasrepro.bench.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        return CliResult(rc, out, err)

    return run

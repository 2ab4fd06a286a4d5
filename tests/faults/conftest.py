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

#: The table every fault test reads: 6 cell classes x 2 seeds, under synthetic-smoke.

#: A cheap cell (pools, skips, dead edges): trains in about a second.
CHEAP_CELL = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


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


#: The file that fills :func:`full_dir`; not counted by :func:`files_in`.
FILLER = ".filler"


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


def leaderboard_args(table: Path, out: Path, *override: str) -> list[str]:
    """A tiny leaderboard on ``table`` (the smoke table) writing to ``out``; later flags override."""
    return [
        "leaderboard",
        "--table",
        str(table),
        "--strategies",
        "random-search",
        "--seeds",
        "1",
        "--budget",
        "5q",
        "--jobs",
        "1",
        "--no-track",
        "--out",
        str(out),
        *override,
    ]


def sweep_args(out: Path, *flags: str) -> list[str]:
    """A one-seed synthetic-smoke sweep into ``out``; ``flags`` add the archs or a bad value."""
    return [
        "sweep",
        "--protocol",
        "synthetic-smoke",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--no-track",
        "--no-progress",
        *flags,
    ]


def files_in(directory: Path) -> list[Path]:
    """Every file in ``directory`` but :data:`FILLER` (a failed write must leave none)."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != FILLER)


class CliResult:
    """What one ``nasrepro`` call gave: the exit code and both streams."""

    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err

    def assert_user_error(self, *fragments: str) -> None:
        """Exit 2, one line ``nasrepro: error: ...`` holding ``fragments``, no traceback.

        A progress bar may come before it (commands draw one once runs finish).
        """
        assert "Traceback" not in self.err, self.err
        assert self.rc == 2, (self.rc, self.err)
        lines = [ln for ln in self.err.splitlines() if "error" in ln or "Error" in ln]
        assert len(lines) == 1 and lines[0].startswith("nasrepro: error: "), self.err
        assert self.err.rstrip().endswith(lines[0]), self.err
        for f in fragments:
            assert f in lines[0], (f, lines[0])


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

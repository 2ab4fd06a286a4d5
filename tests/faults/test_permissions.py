"""A file this user may not read is a permissions problem, not a damaged file.

Before 2026-12-07 (a fuzz run as the unprivileged user ``nobody``), an unreadable
table was called "truncated, corrupt or not a table; download or rebuild it", an
unreadable sweep chunk or leaderboard run file was moved aside as ``*.corrupt`` and
computed again, and an unreadable surrogate file ended in a traceback. Each now
stops with :class:`~nasrepro.spaces.AccessError`: the path, that the file itself is not
damaged, and the fix (make it readable, or run as its owner); nothing is moved.

The test suite runs as root, whom file modes do not stop, so the denial is made by
having the read raise the ``PermissionError`` the operating system raises for others
(a mock, for a fault root cannot cause). As another user, the real ``chmod`` is used.
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard
from nasrepro.spaces import AccessError, NasreproError
from nasrepro.tables import Table

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def _deny(monkeypatch: pytest.MonkeyPatch, path: Path, owner: Any, name: str) -> None:
    """Make reading ``path`` raise EACCES: ``chmod 000`` for a user it stops, else
    ``owner.name`` (the function that opens it) raises for that path only."""
    if not ROOT_USER:
        path.chmod(0)
        return
    real: Callable[..., Any] = getattr(owner, name, None) or getattr(builtins, name)

    def denied(*args: Any, **kwargs: Any) -> Any:
        if any(str(a) == str(path) for a in args) or str(kwargs.get("name", "")) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, denied, raising=False)


def _check(e: BaseException, path: Path) -> None:
    msg = str(e)
    assert isinstance(e, AccessError) and isinstance(e, NasreproError)
    assert str(path) in msg and "permission denied" in msg and "not damaged" in msg
    assert "corrupt" not in msg and "rebuild" not in msg and "\n" not in msg


def test_an_unreadable_table_is_not_called_corrupt(
    smoke_table_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import h5py

    p = tmp_path / "t.h5"
    shutil.copy(smoke_table_path, p)
    _deny(monkeypatch, p, h5py, "File")
    with pytest.raises(AccessError) as info:
        Table.open(p)
    _check(info.value, p)


def test_an_unreadable_sweep_chunk_is_not_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasrepro.bench.harness import sweep
    from nasrepro.tables import _records

    out = tmp_path / "sweep"
    args = ("cell", "synthetic-smoke", [0], out)
    sweep(*args, sample=2, chunk_size=2)
    (chunk,) = sorted((out / "chunks").iterdir())
    _deny(monkeypatch, chunk, _records.gzip, "open")
    with pytest.raises(AccessError) as info:
        sweep(*args, sample=2, chunk_size=2)  # the resume reads the chunk
    _check(info.value, chunk)
    monkeypatch.undo()
    assert sorted((out / "chunks").iterdir()) == [chunk]  # not moved aside as .corrupt


def test_an_unreadable_run_file_is_not_set_aside_and_rerun(
    smoke_table_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    cfg = LeaderboardConfig(
        BenchmarkSpec(table=str(smoke_table_path)), ("random-search",), (0, 1), "5x", jobs=1
    )
    run_leaderboard(cfg, runs_dir=runs)
    files = sorted(runs.iterdir())
    target = next(f for f in files if f.name.startswith("random-search-seed0"))
    _deny(monkeypatch, target, Path, "read_text")  # a method: the path is its ``self``
    with pytest.raises(AccessError) as info:
        run_leaderboard(cfg, runs_dir=runs)
    _check(info.value, target)
    monkeypatch.undo()
    assert sorted(runs.iterdir()) == files  # nothing set aside, nothing rerun


def test_an_unreadable_surrogate_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasrepro.surrogate import Surrogate, _files, shipped_path

    d = tmp_path / "s"
    shutil.copytree(shipped_path(), d)
    model = next(p for p in sorted(d.iterdir()) if p.name.endswith(".json.gz"))
    _deny(monkeypatch, model, _files, "open")
    with pytest.raises(AccessError) as info:
        Surrogate.load(d)
    _check(info.value, model)

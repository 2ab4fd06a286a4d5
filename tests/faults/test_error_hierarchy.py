"""How the CLI maps errors: a NasreproError is exit 2 and one line, anything else a bug.

A :class:`~nasrepro.spaces.NasreproError` (bad input, a missing resource) gives exit
code 2 and one line ``nasrepro: error: ...``; ``-v`` prints its traceback first. Any
other exception is a bug: exit code 1 and the full traceback, a plain ``ValueError``
too (before, a ValueError bug printed one line and hid its traceback even with ``-v``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import CHEAP_CELL, CliResult, sweep_args

Cli = Callable[..., CliResult]

#: A cell string with an unknown op: the parser rejects it (a SpaceError).
BAD_ARCH = "|nor_conv_9x9~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("nasrepro: ")]


def _table_missing(tmp_path: Path, smoke: Path) -> list[str]:
    return ["table", "info", str(tmp_path / "no-such-table.h5")]


def _not_json(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not JSON")
    return path


def _reference_not_json(tmp_path: Path, smoke: Path) -> list[str]:
    ref = _not_json(tmp_path / "ref.json")
    table = ["--table", str(smoke), "--no-track", "--no-retrain"]
    return ["validate", "--strategy", "random-search", "--reference", str(ref), *table]


def _surrogate_not_json(tmp_path: Path, smoke: Path) -> list[str]:
    _not_json(tmp_path / "models" / "metadata.json")
    return [
        "surrogate",
        "predict",
        CHEAP_CELL,
        "--space",
        "cell",
        "--models",
        str(tmp_path / "models"),
    ]


USER_ERRORS = {
    "reference-not-json": _reference_not_json,
    "surrogate-metadata-not-json": _surrogate_not_json,
    "malformed-arch": lambda tmp, smoke: ["space", "canonical", BAD_ARCH],
    "table-missing": _table_missing,
    "archs-file-missing": lambda tmp, smoke: sweep_args(
        tmp / "sweep", "--archs", str(tmp / "nothing")
    ),
}


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_error_is_one_line_and_verbose_adds_the_traceback(
    cli: Cli, tmp_path: Path, smoke_table_path: Path, case: str
) -> None:
    args = USER_ERRORS[case](tmp_path, smoke_table_path)
    plain = cli(*args)
    plain.assert_user_error()
    lines = _error_lines(plain.err)
    assert plain.err.strip() == lines[0], plain.err

    verbose = cli("-v", *args)
    assert verbose.rc == 2, verbose.err
    assert "Traceback (most recent call last)" in verbose.err, verbose.err
    assert verbose.err.rstrip().endswith(lines[0]), verbose.err


def test_malformed_arch_subprocess_exit_2_no_traceback(tmp_path: Path) -> None:
    """The installed entry point (a fresh interpreter), not only ``main`` in this process."""
    out = subprocess.run(
        [sys.executable, "-m", "nasrepro.bench.cli", "space", "canonical", BAD_ARCH],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("nasrepro: error: ") and out.stderr.count("\n") == 1, out.stderr


def _break_parse(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> list[str]:
    import nasrepro.spaces

    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(nasrepro.spaces, "parse_any", broken)
    return ["space", "canonical", CHEAP_CELL]


def _break_table_open(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> list[str]:
    import nasrepro.bench.cli._table as table_cli

    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(table_cli, "_open", broken)
    return ["table", "info"]


@pytest.mark.parametrize("where", [_break_parse, _break_table_open], ids=["space", "table"])
@pytest.mark.parametrize(
    "exc",
    [
        ZeroDivisionError("division by zero"),
        ValueError("a bug that happens to be a ValueError"),
        KeyError("a bug that happens to be a KeyError"),
        OSError("a bug that happens to be an OSError"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bug_exits_1_with_its_traceback(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    where: Callable[[pytest.MonkeyPatch, BaseException], list[str]],
    exc: BaseException,
) -> None:
    """A fault that no input causes (so it is patched in): exit 1 and the full traceback."""
    r = cli(*where(monkeypatch, exc))
    assert r.rc == 1, r.err
    assert "Traceback (most recent call last)" in r.err, r.err
    assert f"{type(exc).__name__}: " in r.err, r.err
    assert "nasrepro: error:" not in r.err, r.err


def test_missing_ray_names_the_extra(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without ray, ``--executor ray`` is a user error naming ``pip install 'nasrepro[ray]'``."""
    from nasrepro.spaces import MissingExtraError

    monkeypatch.setitem(sys.modules, "ray", None)
    r = cli(*sweep_args(tmp_path / "sweep", "--sample", "2", "--executor", "ray"))
    r.assert_user_error("needs ray", "pip install 'nasrepro[ray]'")

    from nasrepro.bench.harness._executors import _ray_executor
    from nasrepro.bench.harness._sweep import _run_unit

    with pytest.raises(MissingExtraError, match=r"nasrepro\[ray\]"):
        list(_ray_executor([], 1, None, _run_unit))

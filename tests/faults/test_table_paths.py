"""`--table PATH` that is not a table file: a directory, or a results file (CSV, JSON
Lines, JSON) not imported yet. Each names what it is and the command that fixes it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import CliResult, leaderboard_args

from nasrepro.spaces import get_space

Cli = Callable[..., CliResult]
CELL = [a.to_string() for a in get_space("cell").enumerate()]


def test_a_directory_is_named_as_one(cli: Cli, tmp_path: Path) -> None:
    d = tmp_path / "dir.h5"
    d.mkdir()
    r = cli("table", "info", "--table", str(d))
    r.assert_user_error("dir.h5 is a directory, not a table file", "pass the .h5 table file")
    assert "no table of that name" not in r.err
    r = cli(*leaderboard_args(d, tmp_path / "lb"))
    r.assert_user_error("dir.h5 is a directory, not a table file")


def test_a_sweep_directory_points_to_table_build(cli: Cli, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    cli("table", "info", str(sweep)).assert_user_error(
        "sweep is a directory, not a table file", f"`nasrepro table build {sweep} -o TABLE.h5`"
    )


@pytest.mark.parametrize(
    ("name", "text", "kind", "source"),
    [
        ("x.csv", f"arch,v,t\n{CELL[0]},50,60\n", "CSV", "x.csv"),
        ("x.jsonl", f'{{"arch": "{CELL[0]}", "v": 50, "t": 60}}\n', "JSON Lines", "x.jsonl"),
        ("x.json", f'[{{"arch": "{CELL[0]}", "v": 50, "t": 60}}]', "JSON", "x.jsonl"),
    ],
)
def test_a_results_file_points_to_table_import(
    cli: Cli, tmp_path: Path, name: str, text: str, kind: str, source: str
) -> None:
    """It said "cannot be read as HDF5 ... download or rebuild it"."""
    f = tmp_path / name
    f.write_text(text)
    for args in (["table", "info", str(f)], leaderboard_args(f, tmp_path / "lb")):
        r = cli(*args)
        r.assert_user_error(
            f"{name} is a {kind} file, not a table",
            f"`nasrepro table import {tmp_path / source} -o {tmp_path / 'x.h5'} --search COL "
            "--report COL`",
        )
        assert "download or rebuild" not in r.err


def test_a_table_with_a_results_suffix_still_opens(cli: Cli, tmp_path: Path) -> None:
    """The suffix alone does not decide: an HDF5 table named .csv is a table."""
    from nasrepro.tables import default_table_path

    shipped = default_table_path()
    if shipped is None:
        pytest.skip("the default table is not installed")
    t = tmp_path / "table.csv"
    shutil.copyfile(shipped, t)
    r = cli("table", "info", str(t))
    assert r.rc == 0, r.err

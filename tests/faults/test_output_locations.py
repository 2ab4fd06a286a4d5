"""Output locations that cannot be written: every command ends with one clear line, exit 2.

Each command is tried on a read-only directory, on a path under a regular file (or
the file itself where a directory is needed), and on a full disk. Commands that
write a directory check it before they compute anything; a write that fails part
way leaves no partial file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import CHEAP_CELL, CliResult, files_in, leaderboard_args, sweep_args

Cli = Callable[..., CliResult]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, finished sweep: one cheap cell, one seed, under synthetic-smoke."""
    from nasrepro.bench.harness._sweep import sweep

    out = tmp_path_factory.mktemp("sweep") / "s"
    sweep("cell", "synthetic-smoke", [0], out, archs=[CHEAP_CELL], progress=False, track=False)
    return out


def _sweep_args(tmp_path: Path, out: Path) -> list[str]:
    archs = tmp_path / "archs.txt"
    archs.write_text(CHEAP_CELL + "\n")
    return sweep_args(out, "--archs", str(archs))


# --------------------------------------------------------------------- sweep --out
def test_sweep_out_is_a_file(cli: Cli, tmp_path: Path, not_a_dir: Path) -> None:
    cli(*_sweep_args(tmp_path, not_a_dir)).assert_user_error("--out", "not a directory")


def test_sweep_out_under_a_file(cli: Cli, tmp_path: Path, not_a_dir: Path) -> None:
    cli(*_sweep_args(tmp_path, not_a_dir / "sweep")).assert_user_error("--out")


def test_sweep_out_read_only(cli: Cli, tmp_path: Path, readonly_dir: Path) -> None:
    cli(*_sweep_args(tmp_path, readonly_dir / "sweep")).assert_user_error("--out")


def test_sweep_out_full(cli: Cli, tmp_path: Path, full_dir: Path) -> None:
    r = cli(*_sweep_args(tmp_path, full_dir / "sweep"))
    r.assert_user_error("--out", "No space left on device", "resumes")


# ----------------------------------------------------------------- table build -o
def test_table_build_under_a_file(cli: Cli, sweep_dir: Path, not_a_dir: Path) -> None:
    r = cli("table", "build", str(sweep_dir), "-o", str(not_a_dir / "t.h5"), "--allow-partial")
    r.assert_user_error("-o", "not a directory")


def test_table_build_is_a_directory(cli: Cli, sweep_dir: Path, tmp_path: Path) -> None:
    r = cli("table", "build", str(sweep_dir), "-o", str(tmp_path), "--allow-partial")
    r.assert_user_error("-o", "is a directory")


def test_table_build_read_only(cli: Cli, sweep_dir: Path, readonly_dir: Path) -> None:
    r = cli("table", "build", str(sweep_dir), "-o", str(readonly_dir / "t.h5"), "--allow-partial")
    r.assert_user_error("-o", "Read-only file system")


def _build_in_subprocess(sweep_dir: Path, out: Path) -> CliResult:
    r = subprocess.run(
        [sys.executable, "-m", "nasrepro.bench.cli", "table", "build", str(sweep_dir)]
        + ["-o", str(out), "--allow-partial"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return CliResult(r.returncode, r.stdout, r.stderr)


def test_table_build_full_disk(sweep_dir: Path, full_dir: Path) -> None:
    r = _build_in_subprocess(sweep_dir, full_dir / "t.h5")
    r.assert_user_error("No space left on device", "nothing was written")
    assert files_in(full_dir) == []


def test_table_build_disk_fills_mid_write(sweep_dir: Path, small_dir: Path) -> None:
    """The table (about 100 KB) outgrows the 64 KiB disk part way through.

    In a subprocess: before the fix HDF5 crashed the interpreter here (exit 139).
    """
    r = _build_in_subprocess(sweep_dir, small_dir / "t.h5")
    assert r.rc != -11 and r.rc != 139, "segfault"
    r.assert_user_error("No space left on device", "nothing was written")
    assert files_in(small_dir) == []


# ---------------------------------------------------------------- leaderboard --out
def test_leaderboard_out_is_a_file(cli: Cli, not_a_dir: Path, smoke_table_path: Path) -> None:
    r = cli(*leaderboard_args(smoke_table_path, not_a_dir))
    r.assert_user_error("--out", "not a directory")
    assert "run/s" not in r.err  # no progress bar: no run had started


def test_leaderboard_out_read_only_checked_first(
    cli: Cli, readonly_dir: Path, smoke_table_path: Path
) -> None:
    """The location is refused before any run: no progress bar was ever drawn."""
    r = cli(*leaderboard_args(smoke_table_path, readonly_dir / "lb"))
    r.assert_user_error("--out")
    assert "run/s" not in r.err


def test_leaderboard_out_full(cli: Cli, full_dir: Path, smoke_table_path: Path) -> None:
    out = full_dir / "lb"
    r = cli(*leaderboard_args(smoke_table_path, out))
    r.assert_user_error("--out", "No space left on device")
    assert files_in(full_dir) == []


def test_leaderboard_writes_all_files(cli: Cli, tmp_path: Path, smoke_table_path: Path) -> None:
    """The staged write still puts every file in place (and nothing else)."""
    out = tmp_path / "lb"
    r = cli(*leaderboard_args(smoke_table_path, out))
    assert r.rc == 0, r.err
    names = sorted(p.name for p in out.iterdir())
    assert {"leaderboard.md", "leaderboard.html", "results.json"} <= set(names)
    assert not [n for n in names if n.startswith(".")]
    assert "random-search" in (out / "leaderboard.md").read_text()


# -------------------------------------------------------------- table export / plot
@pytest.mark.parametrize("command", [["export", "--csv"], ["plot"]])
def test_table_output_under_a_file(
    cli: Cli, not_a_dir: Path, command: list[str], smoke_table_path: Path
) -> None:
    out = not_a_dir / ("t.csv" if command[0] == "export" else "t.png")
    r = cli("table", *command, str(smoke_table_path), "-o", str(out))
    r.assert_user_error("-o", "not a directory")


@pytest.mark.parametrize("command", [["export", "--csv"], ["plot"]])
def test_table_output_read_only(
    cli: Cli, readonly_dir: Path, command: list[str], smoke_table_path: Path
) -> None:
    out = readonly_dir / ("t.csv" if command[0] == "export" else "t.png")
    r = cli("table", *command, str(smoke_table_path), "-o", str(out))
    r.assert_user_error("-o", "Read-only file system")


@pytest.mark.parametrize("command", [["export", "--csv"], ["plot"]])
def test_table_output_full_leaves_nothing(
    cli: Cli, full_dir: Path, command: list[str], smoke_table_path: Path
) -> None:
    out = full_dir / ("t.csv" if command[0] == "export" else "t.png")
    r = cli("table", *command, str(smoke_table_path), "-o", str(out))
    r.assert_user_error("-o", "No space left on device")
    assert files_in(full_dir) == []


def test_table_export_writes_the_file(cli: Cli, tmp_path: Path, smoke_table_path: Path) -> None:
    out = tmp_path / "t.csv"
    r = cli("table", "export", "--csv", str(smoke_table_path), "-o", str(out))
    assert r.rc == 0, r.err
    assert out.read_text().count("\n") > 1 and files_in(tmp_path) == [out]


# ------------------------------------------ oneshot --out / --plot, surrogate --report
# Each is refused before any search or evaluation runs (they used to run for seconds to
# minutes and then end in a PermissionError traceback, losing the result).
def _oneshot_board(table: Path, out: Path) -> list[str]:
    return ["oneshot", "leaderboard", "--table", str(table), "--methods", "rsps", "--seeds", "1"] + [
        "--epochs", "1", "--strategies", "none", "--retrain", "0", "--rank-cells", "0", "--no-track",
        "--out", str(out),
    ]  # fmt: skip


def test_oneshot_leaderboard_out_read_only(
    cli: Cli, readonly_dir: Path, smoke_table_path: Path
) -> None:
    r = cli(*_oneshot_board(smoke_table_path, readonly_dir / "board"))
    r.assert_user_error("--out", "Read-only file system")
    assert "search" not in r.err  # no progress bar: no search had started


def test_oneshot_leaderboard_out_is_a_file(
    cli: Cli, not_a_dir: Path, smoke_table_path: Path
) -> None:
    cli(*_oneshot_board(smoke_table_path, not_a_dir)).assert_user_error("--out", "not a directory")


def test_oneshot_run_plot_in_a_missing_directory(
    cli: Cli, tmp_path: Path, smoke_table_path: Path
) -> None:
    plot = tmp_path / "missing" / "x.png"
    r = cli("oneshot", "run", "rsps", "--table", str(smoke_table_path), "--epochs", "1",
            "--no-track", "--plot", str(plot))  # fmt: skip
    r.assert_user_error("--plot", "does not exist; create it")
    assert r.out == ""  # refused before the search printed anything


@pytest.mark.parametrize("name", ["x.txt", "x"])
def test_figure_outputs_need_a_figure_suffix(
    cli: Cli, tmp_path: Path, smoke_table_path: Path, name: str
) -> None:
    """matplotlib picks the format by the suffix: a .txt or no suffix failed after the
    whole search (a ValueError traceback, the result lost) or after table plot's work."""
    plot = tmp_path / name
    r = cli("oneshot", "run", "rsps", "--table", str(smoke_table_path), "--epochs", "1",
            "--no-track", "--plot", str(plot))  # fmt: skip
    r.assert_user_error("--plot", "names no figure format", ".png")
    assert r.out == "" and not plot.exists()
    r = cli("table", "plot", str(smoke_table_path), "-o", str(plot))
    r.assert_user_error("-o", "names no figure format", ".png")
    assert files_in(tmp_path) == []


def test_oneshot_run_plot_read_only(cli: Cli, readonly_dir: Path, smoke_table_path: Path) -> None:
    r = cli("oneshot", "run", "rsps", "--table", str(smoke_table_path), "--epochs", "1",
            "--no-track", "--plot", str(readonly_dir / "x.png"))  # fmt: skip
    r.assert_user_error("--plot", "Read-only file system")


def test_surrogate_eval_report_read_only(cli: Cli, readonly_dir: Path) -> None:
    r = cli("surrogate", "eval", "--report", str(readonly_dir / "rep"))
    r.assert_user_error("--report")


def test_surrogate_eval_report_under_a_file(cli: Cli, not_a_dir: Path) -> None:
    r = cli("surrogate", "eval", "--report", str(not_a_dir / "rep"))
    r.assert_user_error("--report", "Not a directory")

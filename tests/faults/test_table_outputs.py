"""Table outputs that would destroy data are refused; a killed writer's temporary file is
cleaned up by the next write of the same output.

`table import -o` once wrote the table over its own input CSV, and `table build -o`
over a finished chunk or the manifest of the sweep it read; `table export`/`plot -o`
over the table being read. An existing table may still be replaced (rebuilds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import CHEAP_CELL, CliResult

from nasrepro.spaces import get_space
from nasrepro.tables import Table
from nasrepro.tables._outfile import STALE_AFTER_S, _host_tag, is_hdf5, stale_temps

Cli = Callable[..., CliResult]
CELL = [a.to_string() for a in get_space("cell").enumerate()]
ROWS = "arch,v,t\n" + "".join(f"{a},50,{60 + i % 30}\n" for i, a in enumerate(CELL[:40]))


def _import(f: Path, out: Path) -> list[str]:
    return ["table", "import", str(f), "-o", str(out), "--search", "v", "--report", "t",
            "--partial"]  # fmt: skip


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, finished sweep: one cheap cell, one seed, under synthetic-smoke."""
    from nasrepro.bench.harness._sweep import sweep

    out = tmp_path_factory.mktemp("sweep") / "s"
    sweep("cell", "synthetic-smoke", [0], out, archs=[CHEAP_CELL], progress=False, track=False)
    return out


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------- table import -o
def test_import_refuses_to_write_over_its_input(cli: Cli, tmp_path: Path) -> None:
    f = tmp_path / "self.csv"
    f.write_text(ROWS)
    cli(*_import(f, f)).assert_user_error(
        "self.csv: the output is the input file", "write the table to another path (e.g. "
    )
    assert f.read_text() == ROWS
    link = tmp_path / "link.h5"  # the same file by another name
    link.symlink_to(f)
    cli(*_import(f, link)).assert_user_error("the output is the input file")
    assert f.read_text() == ROWS and not list(tmp_path.glob(".*.tmp"))


def test_import_refuses_to_replace_a_file_that_is_not_a_table(cli: Cli, tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(ROWS)
    other = tmp_path / "notes.h5"
    other.write_text("my notes, not a table\n")
    cli(*_import(f, other)).assert_user_error(
        "notes.h5 exists and is not an HDF5 table",
        "write to another path, or delete the file first if you mean to replace it",
    )
    assert other.read_text() == "my notes, not a table\n"


def test_import_replaces_an_existing_table_and_an_empty_file(cli: Cli, tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(ROWS)
    out = tmp_path / "t.h5"
    out.touch()  # empty: nothing to lose
    assert cli(*_import(f, out)).rc == 0
    assert is_hdf5(out)
    f.write_text(ROWS.replace(",50,", ",51,"))
    r = cli(*_import(f, out))
    assert r.rc == 0, r.err
    assert Table.open(out).query(CELL[0]).valid_acc == 51


# -------------------------------------------------------------------- table build -o
@pytest.mark.parametrize("inside", ["chunks/s0-c00000.json.gz", "sweep.json", "table.h5"])
def test_build_refuses_an_output_inside_the_sweep(
    cli: Cli, sweep_dir: Path, tmp_path: Path, inside: str
) -> None:
    before = _snapshot(sweep_dir)
    r = cli("table", "build", str(sweep_dir), "-o", str(sweep_dir / inside))
    r.assert_user_error("the output lies inside the sweep directory", "write the table outside it")
    assert _snapshot(sweep_dir) == before
    again = cli("table", "build", str(sweep_dir), "-o", str(tmp_path / "t.h5"))
    assert again.rc == 0, again.err  # the sweep is intact


def test_build_replaces_a_table_but_not_another_file(
    cli: Cli, sweep_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "t.h5"
    assert cli("table", "build", str(sweep_dir), "-o", str(out)).rc == 0
    assert cli("table", "build", str(sweep_dir), "-o", str(out)).rc == 0  # a rebuild
    csv = tmp_path / "results.csv"
    csv.write_text(ROWS)
    cli("table", "build", str(sweep_dir), "-o", str(csv)).assert_user_error(
        "results.csv exists and is not an HDF5 table"
    )
    assert csv.read_text() == ROWS


# ------------------------------------------------------------- table export/plot -o
def test_export_and_plot_refuse_to_write_over_a_table(cli: Cli, tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(ROWS)
    table, other = tmp_path / "t.h5", tmp_path / "u.h5"
    for out in (table, other):
        assert cli(*_import(f, out)).rc == 0
    before = table.read_bytes()
    for cmd in (["export", "--csv"], ["plot"]):
        r = cli("table", *cmd, str(table), "-o", str(table))
        r.assert_user_error("is the table being read", "choose another path")
        r = cli("table", *cmd, str(table), "-o", str(other))
        r.assert_user_error("is an HDF5 table", "delete it first if you mean to replace it")
    assert table.read_bytes() == before and is_hdf5(other)
    assert cli("table", "export", str(table), "--csv", "-o", str(tmp_path / "x.csv")).rc == 0


# ------------------------------------------------- temporary files of killed writers
_HANG = textwrap.dedent(
    """
    import os, sys, time
    def hang(fd):  # the table's bytes are written, not yet renamed: kill me here
        print("writing", flush=True)
        time.sleep(600)
    os.fsync = hang
    from nasrepro.bench.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_killed_import_leaves_a_temp_file_that_the_next_write_removes(
    cli: Cli, tmp_path: Path
) -> None:
    f = tmp_path / "r.csv"
    f.write_text(ROWS)
    out = tmp_path / "t.h5"
    child = subprocess.Popen(
        [sys.executable, "-c", _HANG, *_import(f, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing", child.stderr.read()  # type: ignore[union-attr]
        left = list(tmp_path.glob(".t.h5.*.tmp.h5"))  # the suffix kept for the format
        assert len(left) == 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert left[0].exists() and not out.exists()  # what the walkthrough found
    unrelated = [
        tmp_path / ".u.h5.abcdefgh.tmp",  # another output's
        tmp_path / "t.h5.abcdefgh.tmp",  # not hidden: not ours
        tmp_path / ".t.h5.abcdefgh.tmp.csv",  # another suffix: not this output's
    ]
    # ours, in the pattern without a PID that bench.cli's atomic_file wrote until
    # 2026-12-07 (with the suffix), and old: stale
    old_ours = tmp_path / ".t.h5.abcdefgh.tmp.h5"
    for p in [*unrelated, old_ours]:
        p.write_text("x")
        os.utime(p, (0, 0))
    r = cli(*_import(f, out))
    assert r.rc == 0, r.err
    assert not left[0].exists(), "the dead writer's temporary file was kept"
    assert not old_ours.exists(), "an hour-old temporary file of this output was kept"
    assert all(p.exists() for p in unrelated)
    assert Table.open(out).query(CELL[0]).valid_acc == 50


def test_only_temp_files_of_gone_writers_are_stale(tmp_path: Path) -> None:
    out = tmp_path / "t.h5"
    host = _host_tag()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        names = {
            "live": f".t.h5.{sleeper.pid}@{host}-abcdefgh.tmp",
            "dead": f".t.h5.{int(dead.stdout)}@{host}-abcdefgh.tmp",
            "other_host": f".t.h5.{int(dead.stdout)}@000000-abcdefgh.tmp"
            if host != "000000"
            else f".t.h5.{int(dead.stdout)}@111111-abcdefgh.tmp",
            "old_format_fresh": ".t.h5.abcdefgh.tmp",
            "old_format_old": ".t.h5.ijklmnop.tmp",
            "live_but_old": f".t.h5.{sleeper.pid}@{host}-qrstuvwx.tmp",
            "dead_with_suffix": f".t.h5.{int(dead.stdout)}@{host}-abcdefgk.tmp.h5",
            "dead_other_suffix": f".t.h5.{int(dead.stdout)}@{host}-abcdefgl.tmp.png",
        }
        for key, name in names.items():
            (tmp_path / name).write_text("partial")
            if key.endswith("old"):
                then = time.time() - STALE_AFTER_S - 60
                os.utime(tmp_path / name, (then, then))
        stale = {p.name for p in stale_temps(out)}
        assert stale == {
            names[k] for k in ("dead", "old_format_old", "live_but_old", "dead_with_suffix")
        }
    finally:
        sleeper.kill()
        sleeper.wait()

"""A table of an older version of a bounded space is refused up front, not mid-run.

The space is a user plugin (``examples/my_space.py``) that grows an op between the
table's import and the leaderboard, as a researcher's own space does while they work
on it. Before, ``check_covers_space`` passed such a table and the leaderboard crashed
with a ``MissingEntryError`` traceback on the first architecture the table lacked.
"""

from __future__ import annotations

import csv
import itertools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_space.py"
NASREPRO = str(Path(sys.executable).with_name("nasrepro"))
AVGPOOL = '    "avgpool3x3": Op.AVGPOOL3X3,\n'


def _run(plugin: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NASREPRO_PLUGINS": str(plugin)}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _import(plugin: Path, ops: list[str], out: Path) -> None:
    rows = [",".join(c) for c in itertools.product(ops, repeat=3)]
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "va", "te"])
        w.writerows([a, 50 + i % 7, 40 + i % 5] for i, a in enumerate(rows))
    done = _run(
        plugin,
        NASREPRO,
        *("table", "import", str(out.with_suffix(".csv")), "-o", str(out), "--space"),
        *("tinycell", "--search", "va", "--report", "te"),
        cwd=out.parent,
    )
    assert done.returncode == 0, done.stderr


def test_a_table_of_a_smaller_older_space_is_refused_naming_both_sizes(tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    assert AVGPOOL in source
    plugin = tmp_path / "tinycell.py"
    plugin.write_text(source.replace(AVGPOOL, ""))  # version 1: three ops, 27 cells
    _import(plugin, ["none", "skip", "conv3x3"], tmp_path / "v1.h5")
    plugin.write_text(source)  # version 2: avgpool3x3 added, 64 cells
    out = _run(
        plugin,
        NASREPRO,
        *("leaderboard", "--table", "v1.h5", "--strategies", "random-search", "--seeds", "2"),
        *("--budget", "30q", "--no-track", "--jobs", "1", "--out", "lb"),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "MissingEntryError" not in out.stderr, out.stderr
    msg = out.stderr
    assert "has 27 rows, but the 'tinycell' space now has 64 architectures" in msg, msg
    assert "rebuild it for the current space" in msg and "import the results file again" in msg
    assert not (tmp_path / "lb" / "runs").exists() or not any((tmp_path / "lb" / "runs").iterdir())


def test_a_table_whose_rows_the_space_no_longer_parses_is_refused(tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    plugin = tmp_path / "tinycell.py"
    plugin.write_text(source)
    table = tmp_path / "v2.h5"
    _import(plugin, ["none", "skip", "conv3x3", "avgpool3x3"], table)
    check = (
        "from nasrepro.tables import Table, check_covers_space\n"
        f"check_covers_space(Table.open({str(table)!r}))\n"
        "print('covered')\n"
    )
    ok = _run(plugin, sys.executable, "-c", check, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.strip() == "covered", ok.stderr
    # the same count of cells, but an op renamed: rows the space no longer parses
    assert '"avgpool3x3": Op.AVGPOOL3X3' in source
    plugin.write_text(source.replace('"avgpool3x3": Op.AVGPOOL3X3', '"maxpool3x3": Op.MAXPOOL3X3'))
    bad = _run(plugin, sys.executable, "-c", check, cwd=tmp_path)
    assert bad.returncode != 0 and "ConfigError" in bad.stderr, bad.stderr
    assert "is not an architecture of the current 'tinycell' space" in bad.stderr, bad.stderr
    assert "avgpool3x3" in bad.stderr and "rebuild it for the current space" in bad.stderr

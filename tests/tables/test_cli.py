"""The ``nasrepro table`` subcommands, driven through the ``nasrepro`` entry point.

``main`` is the one place that maps errors to exit codes (a NasreproError: 2).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from tables_support import SEEDS, canonical_cells

from nasrepro.bench.cli import main
from nasrepro.tables import Table, TrialResult, default_table_path


def run(*argv: str) -> int:
    return main(["table", *argv])


def test_build_and_info(
    smoke_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.h5"
    assert run("build", str(smoke_sweep), "-o", str(out)) == 0
    assert "wrote" in capsys.readouterr().out
    assert run("info", str(out)) == 0
    text = capsys.readouterr().out
    for word in (
        "MB",
        "synthetic-smoke",
        "15625 rows",
        "6466 classes",
        "coverage",
        "test_acc",
        "q50",
    ):
        assert word in text, word
    assert run("info", str(out), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["coverage"][str(SEEDS[0])] == {"trained": len(canonical_cells()), "classes": 6466}
    assert len(info["quantiles"]["test_acc"]) == len(info["quantiles"]["q"])


def test_info_shows_resolution_nan_agreement_cost_and_best(
    table_path: Path,
    sweep_results: dict[tuple[str, int], TrialResult],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The figures a finished table must show, checked against the sweep's own results."""
    from scipy.stats import spearmanr

    t = Table.open(table_path)
    cells = canonical_cells()
    assert run("info", str(table_path), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    # rows whose class is one of the 6 trained ones
    trained_rows = sum(int((t.canonical == t.rows([c])[0]).sum()) for c in cells)
    assert info["resolved"] == trained_rows
    assert info["nan_final"] == 0
    assert info["untrained"] == (6466 - len(cells)) * len(SEEDS)
    va = [[sweep_results[c, s].final["valid_acc"] for c in cells] for s in SEEDS]
    rho = spearmanr(va[0], va[1]).statistic
    assert info["seed_spearman"]["0-1"] == pytest.approx(rho, abs=1e-6)
    hours = sum(r.train_time_s for r in sweep_results.values()) / 3600
    assert info["train_hours"] == pytest.approx(hours, rel=1e-5)
    mean_va = {c: (va[0][i] + va[1][i]) / 2 for i, c in enumerate(cells)}
    assert info["best_by_valid"]["arch"] == max(mean_va, key=lambda c: mean_va[c])
    assert run("info", str(table_path)) == 0
    text = capsys.readouterr().out
    assert f"resolve     {trained_rows}/15625" in text
    assert "Spearman of final valid_acc, seeds 0-1" in text


def test_query(table_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = canonical_cells()[2]
    assert run("query", arch, str(table_path), "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert got["test_acc"] == Table.open(table_path).query(arch).test_acc
    assert run("query", arch, str(table_path), "--epoch", "1", "--seed", str(SEEDS[1])) == 0
    text = capsys.readouterr().out
    assert "epoch         1" in text and "test_acc per seed" in text
    assert run("query", arch, str(table_path), "--epoch", "99") == 2
    assert "epoch=99" in capsys.readouterr().err


def test_top_and_export(
    table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("top", str(table_path), "-k", "3", "--metric", "valid_acc") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and "valid_acc" in lines[0]
    csv = tmp_path / "t.csv"
    assert run("export", str(table_path), "--csv", "-o", str(csv)) == 0
    assert "wrote 6 rows" in capsys.readouterr().out
    df = pd.read_csv(csv)
    assert len(df) == len(canonical_cells()) and "test_acc" in df.columns
    assert run("export", str(table_path), "--csv", "--per-seed") == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 2 * len(canonical_cells())


def test_outputs_that_are_not_regular_files(
    table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o of a named pipe is refused before anything is written (a rename used to
    replace it, as it would /dev/null as root); a symbolic link is written through."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for args in (["export", str(table_path), "--csv"], ["plot", str(table_path)]):
        capsys.readouterr()
        assert run(*args, "-o", str(fifo)) == 2
        err = capsys.readouterr().err
        assert "is not a regular file (a device, a pipe or a socket)" in err, err
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert run("build", str(tmp_path / "no-sweep"), "-o", str(fifo)) == 2  # checked first
    assert "not a regular file" in capsys.readouterr().err
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    assert run("export", str(table_path), "--csv", "-o", str(link)) == 0
    assert link.is_symlink() and target.read_text().startswith("arch,")


def test_plot(table_path: Path, tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    assert run("plot", str(table_path), "-o", str(png)) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("info", str(tmp_path / "missing.h5")) == 2
    assert "no table of that name or path" in capsys.readouterr().err
    if default_table_path() is None:
        assert run("info") == 2
        assert "nasrepro table build" in capsys.readouterr().err
    assert run("build", str(tmp_path), "-o", str(tmp_path / "t.h5")) == 2
    assert "no sweep.json" in capsys.readouterr().err
    assert run("info", "") == 2  # it said "error:  is a directory" (the current one)
    assert "an empty table name; pass a shipped name (cell-mnist1d-tiny" in capsys.readouterr().err


def test_shipped_default_table_is_complete(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 5's acceptance on the bundled table: every cell resolves under all three
    seeds, no final-epoch NaN, trained on CPU under the ``mnist1d-tiny`` protocol."""
    from nasrepro.tables import get_protocol

    if default_table_path() is None:
        pytest.skip("no default table is shipped in this checkout")
    assert run("info", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 15625 and info["classes"] == 6466
    assert info["seeds"] == [0, 1, 2]
    assert info["resolved"] == 15625
    assert info["nan_final"] == 0 and info["untrained"] == 0
    assert info["protocol"] == "mnist1d-tiny"
    assert info["protocol_id"] == get_protocol("mnist1d-tiny").id
    assert set(info["devices"].values()) == {"cpu"}
    assert all(rho > 0.8 for rho in info["seed_spearman"].values())


def test_top_by_a_metric_the_source_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    """It printed a header alone (or [] with --json) and exit 0."""
    for extra in ((), ("--json",)):
        assert run("top", "nb201-cifar10", "--metric", "latency_s", *extra) == 2
        out, err = capsys.readouterr()
        assert out == "" and "no class has a latency_s value (absent in its source)" in err
    assert run("top", "nb201-cifar10", "--metric", "test_acc", "-k", "1") == 0


def test_query_by_the_sources_own_index(capsys: pytest.CaptureFixture[str]) -> None:
    """NB201's arch_index 1 (the vendored CSV's second line) is found, and printed back."""
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert run("query", "--table", "nb201-cifar10", "--source-index", "1", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["arch"], doc["source_index"], doc["test_acc"]) == (arch, 1, pytest.approx(88.22))
    assert run("query", arch, "--table", "nb201-cifar10") == 0
    text = capsys.readouterr().out
    assert "arch_index    1 (the source's own numbering)" in text
    assert "train_loss    absent" in text and "train_time_s  absent" in text
    # NB201's 12-epoch values are seed means: not shown as "seed 0", nor per seed
    assert "seed          none: the source's one value per cell" in text
    assert "per seed" not in text
    assert run("info", "nb201-cifar10") == 0
    text = capsys.readouterr().out
    assert "index       arch_index kept for 15625 rows" in text
    assert "seeds       [0] (the source's one value per cell, not a seed of its" in text
    # the table as the one positional, as `table query --source-index N TABLE` reads
    assert run("query", "--source-index", "1", "nb201-cifar10", "--json") == 0
    assert json.loads(capsys.readouterr().out)["arch"] == arch
    assert run("export", "--csv", "--table", "nb201-cifar10", "-o", "-") == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.startswith("arch,index,source_index,n_seeds,")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["query", "--table", "nb201-cifar10"],
            "give an architecture string (ARCH) or --source-index N, not neither",
        ),
        (
            ["query", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--source-index", "2"],
            "not both",
        ),
        (["query", "--source-index", "2"], "keeps no source index"),
        (
            ["query", "--table", "nb201-cifar10", "--source-index", "15625"],
            "no architecture has arch_index 15625",
        ),
    ],
)
def test_query_by_index_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasrepro: error: ") and message in err and "Traceback" not in err


def test_a_reader_closing_stdout_ends_the_command_quietly() -> None:
    """`nasrepro table export --csv | head -1`: exit 141 (SIGPIPE's code), no traceback."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nasrepro.bench.cli",
            "table",
            "export",
            "--csv",
            "--table",
            "nb201-cifar10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # 15,625 rows follow: far more than a pipe buffer holds
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert first.startswith(b"arch,index,source_index,") and err == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_stdout_on_a_full_disk_is_one_line() -> None:
    """`nasrepro table export --csv > file` on a full disk: exit 2 and one line naming
    it (it was a traceback labelled a bug, exit 1)."""
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-m", "nasrepro.bench.cli", "table", "export", "--csv",
             "--table", "nb201-cifar10"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "nasrepro: error: writing the output failed (No space left on device); free some "
        "space, or write it elsewhere"
    ]

"""Options and commands that no test ran (a test-quality audit of 2026-12-07): each is
run for real here, and its effect checked, not only its exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from nasrepro.spaces import get_space
from nasrepro.tables import Table

CELL = [a.to_string() for a in get_space("cell").enumerate()]


def test_space_info_names_the_space(cli: Callable[..., object]) -> None:
    r = cli("space", "info", "cell", "--json")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    info = json.loads(r.out)  # type: ignore[attr-defined]
    assert info["name"] == "cell" and info["size"] == 15625 and info["canonical_classes"] == 6466
    r = cli("space", "info", "chain")
    assert r.rc == 0 and "chain" in r.out, r.err  # type: ignore[attr-defined]


def test_space_canonical_prints_the_representative(cli: Callable[..., object]) -> None:
    dead = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    want = get_space("cell").canonical(get_space("cell").parse(dead)).to_string()
    r = cli("space", "canonical", dead)
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert want in r.out and want != dead  # type: ignore[attr-defined]


def test_train_threads_is_recorded(cli: Callable[..., object]) -> None:
    r = cli("train", CELL[7], "--protocol", "synthetic-smoke", "--threads", "2", "--json",
            "--no-track")  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert json.loads(r.out.splitlines()[-1])["versions"]["torch_threads"] == "2"  # type: ignore[attr-defined]


def test_table_import_records_the_provenance_flags(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    src = tmp_path / "r.csv"
    src.write_text(
        "name,x,y\n"
        + "".join(f"{a},{i / 100:.2f},{i / 200:.3f}\n" for i, a in enumerate(CELL[:20]))
    )
    out = tmp_path / "t.h5"
    r = cli("table", "import", str(src), "-o", str(out), "--format", "csv", "--arch-column",
            "name", "--search", "x", "--report", "y", "--accuracy-scale", "100",
            "--final-epoch", "12", "--partial", "--source-name", "My bench",
            "--citation", "Me et al. 2026", "--license", "CC-BY-4.0")  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    t = Table.open(out)
    assert t.source["name"] == "My bench"
    assert t.source["citation"] == "Me et al. 2026" and t.source["license"] == "CC-BY-4.0"
    assert list(t.epochs) == [12]
    row = t.query(CELL[10])
    assert abs(row.valid_acc - 10.0) < 1e-4 and abs(row.test_acc - 5.0) < 1e-4  # x100


def test_leaderboard_fresh_replaces_another_configuration(
    cli: Callable[..., object], tmp_path: Path, smoke_table_path: Path
) -> None:
    out = tmp_path / "lb"
    base = ["leaderboard", "--table", str(smoke_table_path), "--strategies", "random-search",
            "--seeds", "2", "--no-track", "--out", str(out)]  # fmt: skip
    assert cli(*base, "--budget", "5q").rc == 0  # type: ignore[attr-defined]
    cli(*base, "--budget", "6q").assert_user_error("budget: stored 5q, asked 6q", "--fresh")  # type: ignore[attr-defined]
    r = cli(*base, "--budget", "6q", "--fresh")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    res = json.loads((out / "results.json").read_text())
    assert res["budget"]["text"] == "6q" and res["config"]["budget"] == "6q"

"""`nasrepro table import` on bad input: one clear line naming file, line and column;
nothing written, and an existing output left as it was."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nasrepro.spaces import get_space
from nasrepro.tables import PartialImportWarning, Table

CELL = [a.to_string() for a in get_space("cell").enumerate()]
GOOD = CELL[5]


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _import(f: Path, out: Path, *flags: str) -> list[str]:
    return ["table", "import", str(f), "-o", str(out), "--search", "v", "--report", "t", *flags]


@pytest.mark.parametrize(
    ("text", "flags", "fragments"),
    [
        (f"arch,v\n{GOOD},1\n", ["--partial"], ["r.csv:1: missing column(s) ['t']", "--report"]),
        (
            "arch,v,t\n|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,2\n",
            ["--partial"],
            ["r.csv:2: column 'arch'", "unknown op 'conv_7x7'"],
        ),
        ("arch,v,t\n|nor_conv_3x3~0|+,1,2\n", ["--partial"], ["r.csv:2: column 'arch'"]),
        (f"arch,v,t\n{GOOD},1,2\n{GOOD},3,4\n", ["--partial"], ["r.csv:3: duplicated", "line 2"]),
        (
            f"arch,v,t\n{GOOD},high,2\n",
            ["--partial"],
            ["r.csv:2: column 'v': 'high' is not a number"],
        ),
        (f"arch,v,t\n{GOOD},nan,2\n", ["--partial"], ["r.csv:2: column 'v' is nan"]),
        (f"arch,v,t\n{GOOD},,2\n", ["--partial"], ["r.csv:2: column 'v' is empty"]),
        (f"arch,v,t\n{GOOD},1,2,3\n", ["--partial"], ["r.csv:2: 4 fields but the header has 3"]),
        (f"arch,v,t\n{GOOD},1,200\n", ["--partial"], ["r.csv:2: column 't': accuracy 200"]),
        (f"arch,v,t\n{GOOD},50,60\n", [], ["1 of the 15,625 cells", "--partial"]),
        ("arch,v,t\n", ["--partial"], ["header but no data lines"]),
        ("", ["--partial"], ["the file is empty"]),
        (f"arch,v,t\n{GOOD},50,60\n", ["--partial", "--column", "speed=v"], ["unknown column"]),
        (f"arch,v,t\n{GOOD},50,60\n", ["--partial", "--macro", "C=16"], ["macro lacks"]),
        (
            f"arch,v,t\n{GOOD},50,60\n",
            ["--partial", "--macro", "C=abc", "--macro", "input_shape=3,32,32"],
            ["macro C='abc' must be a positive integer"],
        ),
        (
            f"arch,v,t\n{GOOD},50,60\n",
            ["--partial", "--index-column", "idx"],
            ["missing column(s) ['idx']"],
        ),
        (
            f"arch,v,t,e\n{GOOD},50,60,0\n",
            ["--partial", "--epoch-column", "e"],
            ["r.csv:2: column 'e': '0' is not an integer >= 1 (epochs count from 1)"],
        ),
        (
            f"arch,v,t,idx\n{GOOD},50,60,1.5\n",
            ["--partial", "--index-column", "idx"],
            ["r.csv:2: column 'idx': '1.5' is not an integer >= 0"],
        ),
    ],
)
def test_bad_csv_is_refused_and_nothing_written(
    cli: Callable[..., object], tmp_path: Path, text: str, flags: list[str], fragments: list[str]
) -> None:
    f = _csv(tmp_path / "r.csv", text)
    out = tmp_path / "out.h5"
    cli(*_import(f, out, *flags)).assert_user_error(*fragments)  # type: ignore[attr-defined]
    assert not out.exists() and not list(tmp_path.glob(".out.h5.*"))


def test_existing_output_is_kept_on_failure(cli: Callable[..., object], tmp_path: Path) -> None:
    out = tmp_path / "out.h5"
    good = _csv(tmp_path / "good.csv", f"arch,v,t\n{GOOD},50,60\n")
    assert cli(*_import(good, out, "--partial")).rc == 0  # type: ignore[attr-defined]
    before = out.read_bytes()
    bad = _csv(tmp_path / "r.csv", f"arch,v,t\n{GOOD},50,x\n")
    cli(*_import(bad, out, "--partial")).assert_user_error("r.csv:2")  # type: ignore[attr-defined]
    assert out.read_bytes() == before


def test_jsonl_errors_name_the_line(cli: Callable[..., object], tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps({"arch": GOOD, "v": 1, "t": 2}) + "\n{not json\n")
    cli(*_import(f, tmp_path / "o.h5", "--partial")).assert_user_error(  # type: ignore[attr-defined]
        "r.jsonl:2: not valid JSON"
    )
    f.write_text(json.dumps({"arch": GOOD, "v": True, "t": 2}) + "\n")
    cli(*_import(f, tmp_path / "o.h5", "--partial")).assert_user_error(  # type: ignore[attr-defined]
        "r.jsonl:1: column 'v': True is not a number"
    )
    f.write_text("[1, 2]\n")
    cli(*_import(f, tmp_path / "o.h5", "--partial")).assert_user_error(  # type: ignore[attr-defined]
        "r.jsonl:1: each line must be a JSON object",
        "the whole file is one JSON array: write one object per line",
    )
    # one object keyed by architecture: the column list was 2,000 characters of strings
    f.write_text(json.dumps({a: {"v": 1, "t": 2} for a in CELL[:40]}) + "\n")
    r = cli(*_import(f, tmp_path / "o.h5", "--partial"))
    r.assert_user_error(  # type: ignore[attr-defined]
        "missing column(s)", "(40 in all)", "its keys look like architectures"
    )
    assert len(r.err) < 1500  # type: ignore[attr-defined]


def test_files_of_other_kinds_name_what_to_convert_to(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    arr = tmp_path / "array.json"
    arr.write_text(json.dumps([{"arch": GOOD, "v": 1, "t": 2}]))
    cli(*_import(arr, tmp_path / "o.h5")).assert_user_error(  # type: ignore[attr-defined]
        "suffix '.json'", "write it as JSON Lines, one object per line"
    )
    import pickle

    pk = tmp_path / "results.csv"
    pk.write_bytes(pickle.dumps({"arch": [GOOD], "v": [1.0]}))
    cli(*_import(pk, tmp_path / "o.h5")).assert_user_error(  # type: ignore[attr-defined]
        "not UTF-8 text", "must first be written out as CSV or JSON Lines"
    )


def test_file_and_mapping_problems(cli: Callable[..., object], tmp_path: Path) -> None:
    out = tmp_path / "o.h5"
    cli(*_import(tmp_path / "none.csv", out)).assert_user_error(  # type: ignore[attr-defined]
        "none.csv: cannot read the results file"
    )
    odd = _csv(tmp_path / "r.txt", "arch,v,t\n")
    cli(*_import(odd, out)).assert_user_error("--format csv|jsonl")  # type: ignore[attr-defined]
    f = _csv(tmp_path / "r.csv", f"arch,v,t\n{GOOD},50,60\n")
    m = tmp_path / "m.json"
    m.write_text('{"search_metric": "v", "report": "t"}')
    r = cli("table", "import", str(f), "-o", str(out), "--mapping", str(m))
    r.assert_user_error("unknown key(s) ['report']")  # type: ignore[attr-defined]
    m.write_text("{broken")
    r = cli("table", "import", str(f), "-o", str(out), "--mapping", str(m))
    r.assert_user_error("m.json: not valid JSON")  # type: ignore[attr-defined]
    r = cli("table", "import", str(f), "-o", str(out))
    r.assert_user_error(  # type: ignore[attr-defined]
        "missing ['search_metric', 'report_metric']", "--search COL and --report COL"
    )


def test_mapping_file_with_flag_overrides(cli: Callable[..., object], tmp_path: Path) -> None:
    from nasrepro.tables import Table

    f = _csv(tmp_path / "r.csv", f"name,a,b,c\n{GOOD},50,60,70\n")
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"search_metric": "a", "report_metric": "b", "arch_column": "name"}))
    out = tmp_path / "o.h5"
    r = cli(
        "table", "import", str(f), "-o", str(out), "--mapping", str(m), "--report", "c", "--partial"
    )
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    t = Table.open(out)
    assert t.report_metric == "c" and t.query(GOOD).test_acc == 70.0
    assert "--report c" in t.source["import_command"]
    info = cli("table", "info", str(out))
    assert info.rc == 0 and "report      c (stored as test_acc" in info.out  # type: ignore[attr-defined]


def test_table_names(cli: Callable[..., object]) -> None:
    r = cli("table", "list")
    assert r.rc == 0  # type: ignore[attr-defined]
    for name in ("cell-mnist1d-tiny", "nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120"):
        assert name in r.out  # type: ignore[attr-defined]
    r = cli("table", "top", "--table", "nb201-cifar10", "-k", "1")
    assert r.rc == 0 and "89.16" in r.out  # type: ignore[attr-defined]
    cli("table", "info", "--table", "nb201-cifar1O").assert_user_error(  # type: ignore[attr-defined]
        "nb201-cifar1O: no table of that name or path", "nb201-cifar10"
    )


def test_a_curve_that_stops_early_is_refused_or_warned(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    """It was accepted, then counted as untrained at the final epoch without a word."""
    lines = ["arch,seed,epoch,v,t"]
    for a in CELL:
        lines += [f"{a},0,1,50,50", f"{a},0,2,60,60"]
    f = _csv(tmp_path / "r.csv", "\n".join(lines[:-1]) + "\n")  # the last cell stops at 1
    out = tmp_path / "t.h5"
    flags = ("--seed-column", "seed", "--epoch-column", "epoch")
    cli(*_import(f, out, *flags)).assert_user_error(  # type: ignore[attr-defined]
        "stop before the final epoch 2: 1", f"{CELL[-1]} seed 0 ends at epoch 1 (line 31250)",
        "--partial",
    )  # fmt: skip
    assert not out.exists()
    with pytest.warns(PartialImportWarning, match="ends at epoch 1.*count as untrained"):
        r = cli(*_import(f, out, *flags, "--partial"))
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert Table.open(out).query(CELL[-1], epoch=1).valid_acc == 50


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("train_time_s", "0", "train_time_s 0 is out of range (a time must be > 0 seconds)"),
        ("train_time_s", "-100000", "train_time_s -100000 is out of range (a time must be > 0"),
        ("epoch_time_s", "0", "epoch_time_s 0 is out of range (a time must be > 0 seconds)"),
        ("latency_s", "-1e-3", "latency_s -0.001 is out of range (a time must be > 0 seconds)"),
        ("params", "-1", "params -1 is out of range (a count must be >= 0)"),
        ("flops", "-2560", "flops -2560 is out of range (a count must be >= 0)"),
        ("train_loss", "-0.5", "train_loss -0.5 is out of range (a loss must be >= 0)"),
        ("test_loss", "-1", "test_loss -1 is out of range (a loss must be >= 0)"),
    ],
)
def test_impossible_times_counts_and_losses_are_refused(
    cli: Callable[..., object], tmp_path: Path, column: str, value: str, fragment: str
) -> None:
    """Zero or negative times, negative counts and losses were imported as given."""
    f = _csv(tmp_path / "r.csv", f"arch,v,t,x\n{CELL[1]},50,60,1\n{GOOD},50,60,{value}\n")
    out = tmp_path / "out.h5"
    r = cli(*_import(f, out, "--partial", "--column", f"{column}=x"))
    r.assert_user_error(f"r.csv:3: column 'x': {fragment}", "fix the value")  # type: ignore[attr-defined]
    assert not out.exists()


def test_zero_values_that_are_possible_are_kept(cli: Callable[..., object], tmp_path: Path) -> None:
    """A loss of 0 and a count of 0 are possible (a `none` cell has no FLOPs in its cell)."""
    f = _csv(tmp_path / "r.csv", f"arch,v,t,l,fl\n{GOOD},50,60,0,0\n")
    out = tmp_path / "out.h5"
    flags = ("--partial", "--column", "test_loss=l", "--column", "flops=fl")
    assert cli(*_import(f, out, *flags)).rc == 0  # type: ignore[attr-defined]
    r = Table.open(out).query(GOOD)
    assert r.test_loss == 0 and r.flops == 0


def _exported(cli: Callable[..., object], tmp_path: Path) -> list[dict[str, str]]:
    import csv

    out = tmp_path / "def.csv"
    assert cli("table", "export", "cell-mnist1d-tiny", "--csv", "-o", str(out)).rc == 0  # type: ignore[attr-defined]
    with out.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.mark.parametrize(("every", "value"), [(1, "0"), (7, "-100000")])
def test_an_exported_table_with_bad_times_is_refused_at_import(
    cli: Callable[..., object], tmp_path: Path, every: int, value: str
) -> None:
    """The walkthrough's repro: it said "wrote", then leaderboards divided by zero."""
    rows = _exported(cli, tmp_path)
    for i, row in enumerate(rows):
        if i % every == 0:
            row["train_time_s"] = value
    f = _write_rows(tmp_path / "bad.csv", rows)
    out = tmp_path / "bad.h5"
    r = cli("table", "import", str(f), "--search", "valid_acc", "--report", "test_acc",
            "--column", "train_time_s=train_time_s", "--class-values", "-o", str(out))  # fmt: skip
    r.assert_user_error(  # type: ignore[attr-defined]
        f"bad.csv:2: column 'train_time_s': train_time_s {value} is out of range",
        "a time must be > 0",
    )
    assert "wrote" not in r.out and not out.exists()  # type: ignore[attr-defined]


def test_an_existing_table_with_zero_times_is_refused_by_leaderboards(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table imported before the check: a clear refusal, not ZeroDivisionError."""
    import nasrepro.tables._import as imp

    lines = ["arch,v,t,time"] + [f"{a},50,{i % 90},{int(i % 7 > 0)}" for i, a in enumerate(CELL)]
    f = _csv(tmp_path / "r.csv", "\n".join(lines) + "\n")
    out = tmp_path / "zero.h5"
    with monkeypatch.context() as m:  # what an older nasrepro wrote
        m.setattr(imp, "_check_range", lambda *a: None, raising=False)
        assert cli(*_import(f, out, "--column", "train_time_s=time")).rc == 0  # type: ignore[attr-defined]
    for budget in ("100s", "5q"):
        r = cli("leaderboard", "--table", str(out), "--strategies", "random-search", "--seeds",
                "1", "--budget", budget, "--jobs", "1", "--no-track", "--out",
                str(tmp_path / f"lb-{budget}"))  # fmt: skip
        r.assert_user_error(  # type: ignore[attr-defined]
            "zero.h5: 2,233 of its 15,625 rows record a training time <= 0", "per-training"
        )
        assert "Traceback" not in r.err  # type: ignore[attr-defined]

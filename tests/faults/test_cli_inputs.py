"""Bad command-line values: each is refused with one line naming it and what is allowed.

Before these checks, most of them were accepted: ``--seeds 1,1`` counted one run
twice, ``--strategies ',,'`` ran all nine strategies, ``--budget 1e12q`` ran without
end, ``reproduce ARCH --seed ''`` did nothing and exited 0, and ``--device nope``
printed a traceback. Every command here is given a cheap, valid rest of the line
(the smoke table, one seed, a tiny budget), so a value that slips through still ends
quickly and the test fails on its exit code instead of hanging.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faults_support import CHEAP_CELL, CliResult, leaderboard_args, sweep_args

from nasrepro.bench.cli import build_parser
from nasrepro.spaces import get_space, parse_in

#: The documented cap (``nasrepro.bench.cli._args.MAX_BUDGET_EVALUATIONS``).
MAX_BUDGET_EVALUATIONS = 1_000_000

Cli = Callable[..., CliResult]


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _leaderboard(table: Path, tmp_path: Path, *override: str) -> list[str]:
    """A tiny leaderboard; ``override`` (later flags win in argparse) brings the bad value."""
    return leaderboard_args(table, tmp_path / "lb", *override)


# ------------------------------------------------------------------------ leaderboard
@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--seeds", "1,1"], ["--seeds", "'1,1'", "listed twice"]),
        (["--seeds", "0"], ["--seeds", "'0'", "at least 1"]),
        (["--seeds=-1"], ["--seeds", "'-1'", "at least 1"]),
        (["--seeds", "-1"], ["--seeds", "'-1'", "at least 1"]),  # not "expected one argument"
        (["--budget", "-5x"], ["--budget", "'-5x'", "'100x'"]),
        (["--seeds", "0,-2"], ["--seeds", "negative"]),
        (["--seeds", "0,x"], ["--seeds", "'x' is not an integer"]),
        (["--budget=0q"], ["--budget", "'0q'", "positive"]),
        (["--budget", "2.5q"], ["--budget", "'2.5q'", "whole number"]),
        (["--budget", "1e12q"], ["--budget", "'1e12q'", f"{MAX_BUDGET_EVALUATIONS}q"]),
        (["--budget", "1e12x"], ["--budget", "'1e12x'", f"{MAX_BUDGET_EVALUATIONS}q"]),
        (["--budget", "ten"], ["--budget", "'ten'", "'200q'"]),
        (["--budget", "0.5x"], ["'0.5x'", "0.5 mean full trainings", "at least 1x"]),
        (["--jobs", "0"], ["--jobs", "'0'", ">= 1"]),
        (["--jobs", "-3"], ["--jobs", "'-3'", ">= 1"]),
        (["--workers", "0"], ["--workers", "'0'", ">= 1"]),
        (["--strategies", ",,"], ["--strategies", "',,'", "expected 'all'"]),
        (["--strategies", "random-search,,local-search"], ["--strategies", "empty entry"]),
        (
            ["--strategies", "random-search, bohb,random-search"],
            ["--strategies", "random-search more than once"],
        ),
    ],
)
def test_leaderboard_refuses(
    cli: Cli, tmp_path: Path, flags: list[str], fragments: list[str], smoke_table_path: Path
) -> None:
    cli(*_leaderboard(smoke_table_path, tmp_path, *flags)).assert_user_error(*fragments)
    assert not (tmp_path / "lb" / "results.json").exists()


def test_runs_without_a_result_are_refused_not_averaged_away(
    cli: Cli, tmp_path: Path, smoke_table_path: Path
) -> None:
    """At 1x, seed 6's first random cell costs more than the whole budget: no mean over
    the other seed hides it, and both finished runs stay on disk for the rerun."""
    args = _leaderboard(smoke_table_path, tmp_path, "--seeds", "5,6", "--budget", "1x")
    cli(*args).assert_user_error(
        "budget '1x' ended 1 of 2 runs before their first result (random-search seed 6)",
        "raise --budget",
    )
    assert not (tmp_path / "lb" / "results.json").exists()
    kept = sorted(p.name for p in (tmp_path / "lb" / "runs").glob("*.json"))
    assert kept == ["random-search-seed5.json", "random-search-seed6.json"]


def test_leaderboard_seconds_budget_capped_by_the_benchmark(
    cli: Cli, tmp_path: Path, smoke_table_path: Path
) -> None:
    """Seconds are weighed against the benchmark's mean training cost, before any run."""
    r = cli(*_leaderboard(smoke_table_path, tmp_path, "--budget", "1e12"))
    r.assert_user_error("'1e12'", "mean trainings", f"{MAX_BUDGET_EVALUATIONS}q")
    assert "run/s" not in r.err


def test_leaderboard_good_values_parse() -> None:
    """The checks keep every valid form: counts, lists, budgets, 'all'."""
    ap = build_parser()
    a = ap.parse_args(["leaderboard", "--seeds", "3", "--budget", "200q", "--strategies", "all"])
    assert (a.seeds, a.budget, a.strategies) == ("3", "200q", "all")
    a = ap.parse_args(["leaderboard", "--seeds", " 4, 2 ", "--budget", "1e6q", "--jobs", "2"])
    assert (a.seeds, a.budget, a.jobs) == ("4,2", "1e6q", 2)
    a = ap.parse_args(["leaderboard", "--budget", "3600", "--strategies", " local-search ,bohb"])
    assert (a.budget, a.strategies) == ("3600", "local-search,bohb")


# -------------------------------------------------------------------------- validate
@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, smoke_table_path: Path) -> Path:
    """A real reference for the smoke table: a tiny leaderboard's results.json."""
    from nasrepro.bench.cli import main

    out = tmp_path_factory.mktemp("reference")
    assert main(_leaderboard(smoke_table_path, out, "--seeds", "2")) == 0
    return out / "lb" / "results.json"


def _validate(table: Path, reference: Path, *flags: str) -> list[str]:
    return [
        "validate",
        "--strategy",
        "nasrepro.strategies:RandomSearch",
        "--table",
        str(table),
        "--reference",
        str(reference),
        "--no-retrain",
        "--no-track",
        "--seeds",
        "1",
        "--jobs",
        "1",
        *flags,
    ]


def test_validate_runs_with_the_reference(
    cli: Cli, reference: Path, tmp_path: Path, smoke_table_path: Path
) -> None:
    """The control: the same line with good values validates and writes validate.json."""
    r = cli(*_validate(smoke_table_path, reference, "--out", str(tmp_path / "v")))
    assert r.rc == 0, r.err
    assert (tmp_path / "v" / "validate.json").is_file()


def test_validate_takes_the_strategy_as_its_positional_too(
    cli: Cli, reference: Path, tmp_path: Path, smoke_table_path: Path
) -> None:
    """`nasrepro validate mystrats.py:Greedy` said only "required: --strategy"."""
    args = _validate(smoke_table_path, reference, "--out", str(tmp_path / "v"))
    positional = [args[0], *args[2:]]  # STRATEGY in place of --strategy STRATEGY
    r = cli(*positional)
    assert r.rc == 0, r.err
    cli(*args, "nasrepro.strategies:LocalSearch").assert_user_error("got both")
    cli("validate", "--table", str(smoke_table_path)).assert_user_error(
        "name the strategy once", "got neither"
    )


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--seeds", "0"], ["--seeds", "'0'", ">= 1"]),
        (["--seeds", "-1"], ["--seeds", "'-1'", ">= 1"]),
        (["--jobs", "0"], ["--jobs", "'0'"]),
        (["--validate-top", "-1"], ["--validate-top", "'-1'", ">= 0"]),
        (["--device", "nope"], ["--device", "'nope'", "'cpu'"]),
        (  # the references answer trials by one seed's result: the regrets would not compare
            ["--seed-mode", "mean"],
            ["made with --seed-mode random", "uses mean", "validate with --seed-mode random"],
        ),
    ],
)
def test_validate_refuses(
    cli: Cli, reference: Path, flags: list[str], fragments: list[str], smoke_table_path: Path
) -> None:
    cli(*_validate(smoke_table_path, reference, *flags)).assert_user_error(*fragments)


def test_validate_out_under_a_file(
    cli: Cli, reference: Path, not_a_dir: Path, smoke_table_path: Path
) -> None:
    r = cli(*_validate(smoke_table_path, reference, "--out", str(not_a_dir / "v")))
    r.assert_user_error("--out", "Not a directory")
    assert "run/s" not in r.err


# ---------------------------------------------------------------------------- device
def _device_commands(table: Path, tmp_path: Path, dev: str) -> list[list[str]]:
    archs = tmp_path / "archs.txt"
    archs.write_text(CHEAP_CELL + "\n")
    return [
        ["train", CHEAP_CELL, "--protocol", "synthetic-smoke", "--no-track", "--device", dev],
        ["reproduce", CHEAP_CELL, "--table", str(table), "--device", dev],
        ["sweep", "--protocol", "synthetic-smoke", "--seeds", "0", "--archs", str(archs)]
        + ["--out", str(tmp_path / "sw"), "--no-track", "--no-progress", "--device", dev],
    ]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["train", "reproduce", "sweep"])
def test_unknown_device(cli: Cli, tmp_path: Path, which: int, smoke_table_path: Path) -> None:
    args = _device_commands(smoke_table_path, tmp_path, "nope")[which]
    cli(*args).assert_user_error("--device", "'nope'", "'cpu', 'cuda' or 'cuda:K'")


@pytest.mark.skipif(_cuda(), reason="CUDA is available here")
@pytest.mark.parametrize("which", [0, 1, 2], ids=["train", "reproduce", "sweep"])
def test_cuda_without_cuda(cli: Cli, tmp_path: Path, which: int, smoke_table_path: Path) -> None:
    args = _device_commands(smoke_table_path, tmp_path, "cuda")[which]
    cli(*args).assert_user_error("--device", "'cuda'", "CUDA is not available", "--device cpu")


@pytest.mark.parametrize("threads", ["0", "100000"])
def test_train_threads_out_of_range(cli: Cli, threads: str) -> None:
    """--threads 100000 crashed OpenBLAS (a segmentation fault, exit 139)."""
    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    r = cli("train", "--protocol", "synthetic-smoke", "--no-track", "--threads", threads, arch)
    r.assert_user_error("--threads", f"'{threads}'")


# ------------------------------------------------------------ space, reproduce, sweep
def test_space_sample_negative_n(cli: Cli) -> None:
    cli("space", "sample", "cell", "-n", "-3").assert_user_error("-n", "'-3'", ">= 1")


def test_space_sample_still_samples(cli: Cli) -> None:
    r = cli("space", "sample", "cell", "-n", "2")
    assert r.rc == 0 and len(r.out.splitlines()) == 2


def test_protocols_are_listed_and_described(cli: Cli) -> None:
    """There was no way to see which protocols exist or what one sets, short of an error."""
    from nasrepro.tables import get_protocol, list_protocols

    r = cli("protocol", "list")
    assert r.rc == 0
    lines = r.out.splitlines()[1:]
    assert [ln.split()[0] for ln in lines] == list_protocols()
    tiny = get_protocol("mnist1d-tiny")
    r = cli("protocol", "info", "mnist1d-tiny", "--json")
    assert r.rc == 0 and json.loads(r.out)["id"] == tiny.id
    assert {k: v for k, v in json.loads(r.out).items() if k in tiny.to_dict()} == tiny.to_dict()
    cli("protocol", "info", "nope").assert_user_error("unknown protocol 'nope'", "mnist1d-tiny")


@pytest.mark.parametrize(
    ("seed", "fragment"), [("", "comma-separated"), ("0,0", "listed twice"), ("-1", "negative")]
)
def test_reproduce_bad_seed(cli: Cli, seed: str, fragment: str, smoke_table_path: Path) -> None:
    r = cli("reproduce", CHEAP_CELL, "--table", str(smoke_table_path), "--seed", seed)
    r.assert_user_error("--seed", fragment)


def _sweep(tmp_path: Path, *flags: str) -> list[str]:
    return sweep_args(tmp_path / "sw", *flags)


def test_sweep_zero_workers(cli: Cli, tmp_path: Path) -> None:
    archs = tmp_path / "archs.txt"
    archs.write_text(CHEAP_CELL + "\n")
    r = cli(*_sweep(tmp_path, "--archs", str(archs), "--workers", "0"))
    r.assert_user_error("--workers", "'0'", ">= 1")


def test_sweep_empty_archs_file(cli: Cli, tmp_path: Path) -> None:
    archs = tmp_path / "archs.txt"
    archs.write_text("\n  \n")
    r = cli(*_sweep(tmp_path, "--archs", str(archs)))
    r.assert_user_error("--archs", "no architectures")
    assert not (tmp_path / "sw" / "sweep.json").exists()


def test_sweep_archs_file_names_the_bad_line(cli: Cli, tmp_path: Path) -> None:
    archs = tmp_path / "archs.txt"
    archs.write_text(f"{CHEAP_CELL}\n\ngarbage\n")
    r = cli(*_sweep(tmp_path, "--archs", str(archs)))
    r.assert_user_error(f"--archs {archs}:3: position 7: expected 3 node groups", "'garbage'")
    assert not (tmp_path / "sw" / "sweep.json").exists()  # refused before any training


def test_sweep_archs_file_that_is_not_text(cli: Cli, tmp_path: Path) -> None:
    archs = tmp_path / "archs.txt"
    archs.write_bytes(b"\xff\xfe" + CHEAP_CELL.encode("utf-16-le"))  # UTF-16, say
    r = cli(*_sweep(tmp_path, "--archs", str(archs)))
    r.assert_user_error("--archs", "byte 0 is not text", "a text file")


@pytest.mark.parametrize(
    "command",
    [
        ["sweep", "--protocol", "synthetic-smoke", "--sample", "1", "--no-track"],
        ["leaderboard", "--quick", "--strategies", "random-search", "--seeds", "1", "--no-track"],
    ],
    ids=["sweep", "leaderboard"],
)
def test_an_empty_out_is_not_the_current_directory(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """--out '' (an unset shell variable) wrote a whole sweep into the current directory."""
    monkeypatch.chdir(tmp_path)
    cli(*command, "--out", "").assert_user_error("--out is empty", "'.'")
    assert list(tmp_path.iterdir()) == []


def test_benchmark_and_table_together_are_refused(cli: Cli, smoke_table_path: Path) -> None:
    """--table won and --benchmark was silently ignored."""
    for cmd in (["leaderboard", "--quick"], ["validate", "nasrepro.strategies:RandomSearch"]):
        r = cli(*cmd, "--benchmark", "nb201-cifar10", "--table", str(smoke_table_path),
                "--no-track")  # fmt: skip
        r.assert_user_error("--benchmark nb201-cifar10 and --table", "give one of them")


def test_a_strategy_spec_with_an_empty_part(cli: Cli) -> None:
    for spec, part in ((":X", "before"), ("examples/my_strategy.py:", "after")):
        r = cli("leaderboard", "--quick", "--strategies", spec, "--no-track")
        r.assert_user_error(repr(spec), f"the part {part} ':' is empty")


def test_sweep_and_build_refuse_a_manifest_of_a_newer_format(cli: Cli, tmp_path: Path) -> None:
    import json

    archs = tmp_path / "archs.txt"
    archs.write_text(CHEAP_CELL + "\n")
    assert cli(*_sweep(tmp_path, "--archs", str(archs))).rc == 0
    manifest = tmp_path / "sw" / "sweep.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 2}))
    r = cli(*_sweep(tmp_path, "--archs", str(archs)))
    r.assert_user_error(str(manifest), "format 2 is newer", "upgrade nasrepro")
    r = cli("table", "build", str(tmp_path / "sw"), "-o", str(tmp_path / "t.h5"))
    r.assert_user_error(str(manifest), "format 2 is newer", "upgrade nasrepro")
    assert not (tmp_path / "t.h5").exists()


def test_sweep_negative_sample(cli: Cli, tmp_path: Path) -> None:
    r = cli(*_sweep(tmp_path, "--space", "chain", "--sample", "-1"))
    r.assert_user_error("--sample", "'-1'", ">= 1")


@pytest.mark.parametrize("flag", ["--seeds", "--chunk-size", "--batched"])
def test_sweep_other_counts(cli: Cli, tmp_path: Path, flag: str) -> None:
    value = "" if flag == "--seeds" else "0"
    cli(*_sweep(tmp_path, flag, value)).assert_user_error(flag)


# -------------------------------------------------------------------------- messages
_HUGE = "|nor_conv_3x3~0|" * 8000  # 128,000 characters, a malformed cell


@pytest.mark.parametrize(
    "args",
    [
        ["space", "canonical", _HUGE],
        ["space", "canonical", _HUGE, "--space", "cell"],
        ["space", "canonical", "a" * 120_000, "--space", "chain"],
        ["table", "query", _HUGE, None],  # None: the smoke table
        ["space", "info", _HUGE],
        ["leaderboard", "--seeds", _HUGE],
        ["sweep", "--out", "x", "--shard", _HUGE],
    ],
    ids=["guess", "cell", "chain", "query", "space-name", "seeds", "shard"],
)
def test_huge_argument_gives_a_short_message(
    cli: Cli, args: list[str | None], smoke_table_path: Path
) -> None:
    r = cli(*[str(smoke_table_path) if a is None else a for a in args])
    assert r.rc == 2 and "Traceback" not in r.err
    assert len(r.err) < 2000, len(r.err)
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "characters)" in r.err  # the quote says how long the input was


def test_huge_argument_short_stderr_end_to_end() -> None:
    """The real process, as a user runs it: a 128 KB argument gives a short stderr."""
    r = subprocess.run(
        [sys.executable, "-m", "nasrepro.bench.cli", "train", _HUGE, "--no-track"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert len(r.stderr) < 2000, len(r.stderr)


@pytest.mark.gpu
def test_cuda_device_checked_against_the_gpus() -> None:
    """Where CUDA is present: 'cuda' and 'cuda:0' parse, an index past the GPUs does not."""
    import argparse

    from nasrepro.bench.cli._args import device

    assert device("cuda") == "cuda" and device(" cuda:0 ") == "cuda:0"
    with pytest.raises(argparse.ArgumentTypeError, match="GPU"):
        device("cuda:999")


@pytest.mark.parametrize(
    "args,flag,bound",
    [
        (["space", "sample", "cell", "--seed", "-1"], "--seed", ">= 0"),
        (
            ["sweep", "--space", "chain", "--sample", "1", "--sample-seed", "-1"]
            + ["--out", "{tmp}/s", "--protocol", "synthetic-smoke", "--no-track"],
            "--sample-seed",
            ">= 0",
        ),
        (
            ["surrogate", "fit", "--table", "{smoke}", "--out", "{tmp}/m", "--seed", "-1"],
            "--seed",
            ">= 0",
        ),
        (
            ["surrogate", "fit", "--table", "{smoke}", "--out", "{tmp}/m", "--split-seed", "-1"],
            "--split-seed",
            ">= 0",
        ),
        (["table", "top", "{smoke}", "-k", "0"], "-k", ">= 1"),
    ],
)
def test_negative_seeds_and_empty_counts_are_refused(
    cli: Cli, tmp_path: Path, smoke_table_path: Path, args: list[str], flag: str, bound: str
) -> None:
    """numpy and xgboost refuse a negative seed deep inside, with a traceback; -k 0 printed an
    empty table. All are refused where they are parsed."""
    argv = [a.format(tmp=tmp_path, smoke=smoke_table_path) for a in args]
    cli(*argv).assert_user_error(flag, "'-1'" if "-1" in argv else "'0'", bound)


def test_a_table_that_does_not_cover_its_space_is_refused_before_any_run(
    cli: Cli, tmp_path: Path
) -> None:
    """A strategy may ask for any architecture: a sample of an unbounded space, or a
    partial table, is refused up front with the fix (it used to fail mid-run)."""
    chain = (
        Path(__file__).resolve().parents[2] / "surrogate" / "data" / "chain-mnist1d-tiny-test.h5"
    )
    r = cli(*leaderboard_args(chain, tmp_path / "a"))
    r.assert_user_error(
        "200 sampled architectures of the unbounded 'chain' space",
        "--benchmark chain-mnist1d-tiny-surrogate",
    )
    assert "run/s" not in r.err
    from nasrepro.bench.harness import sweep
    from nasrepro.tables import build

    sweep("cell", "synthetic-smoke", [0], tmp_path / "s", archs=[CHEAP_CELL], progress=False,
          track=False)  # fmt: skip
    build(tmp_path / "s", tmp_path / "one.h5")
    r = cli(*leaderboard_args(tmp_path / "one.h5", tmp_path / "b"))
    r.assert_user_error(
        "has results for 1 of the 6,466 isomorphism classes",
        "covers the space",
        "a --sample or --archs sweep covers only its list",
    )
    assert "run/s" not in r.err
    # one-shot: it used to search for minutes, then fail on the derived cell's lookup
    for args, asker in (
        (["run", "rsps", "--protocol", "synthetic-smoke"], "a one-shot search may derive"),
        # its black-box side is checked first now, before any search (45a3f40)
        (
            ["leaderboard", "--methods", "rsps", "--seeds", "1", "--out", str(tmp_path / "o")],
            "a strategy may ask for",
        ),
    ):
        r = cli("oneshot", *args, "--table", str(tmp_path / "one.h5"), "--no-track")
        r.assert_user_error("1 of the 6,466", f"{asker} any of them", "covers the space")
    assert not (tmp_path / "o" / "cost.json").exists()  # refused before the cost run


def test_train_refuses_bad_input_before_printing_its_table(cli: Cli) -> None:
    r = cli("train", "bad", "--no-track")
    r.assert_user_error("expected 3 node groups")
    assert r.out == ""  # the epoch table's header came before the error


def test_help_names_every_argument() -> None:
    """Every option and positional of every command has a help text."""
    import argparse

    from nasrepro.bench.cli import build_parser

    def walk(p: argparse.ArgumentParser, name: str) -> list[str]:
        bare = []
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sub_name, sub in a.choices.items():
                    bare += walk(sub, f"{name} {sub_name}")
            elif a.help is None and not isinstance(a, argparse._HelpAction):
                bare.append(f"{name}: {a.option_strings or a.dest}")
        return bare

    assert walk(build_parser(), "nasrepro") == []


def test_an_unknown_argument_points_at_its_commands_help(cli: Cli) -> None:
    cli("leaderboard", "foo").assert_user_error(
        "leaderboard: unrecognized arguments: foo (see 'nasrepro leaderboard --help')"
    )
    cli("space", "list", "--zzz").assert_user_error("(see 'nasrepro space list --help')")


@pytest.mark.parametrize(
    "extra,fragments",
    [
        (["--param", "n_estimators=abc"], ["n_estimators='abc'", "an integer", "600"]),
        (["--param", "learning_rate=fast"], ["learning_rate='fast'", "a number"]),
        (["--fraction", "chain=0.1"], ["--fraction chain=0.1", "no --table of that space"]),
    ],
)
def test_surrogate_fit_refuses_bad_settings_before_fitting(
    cli: Cli, tmp_path: Path, smoke_table_path: Path, extra: list[str], fragments: list[str]
) -> None:
    """A string for a number reached XGBoost (traceback); a fraction for a space with no
    table was ignored, so the fit took the whole table."""
    out = tmp_path / "m"
    r = cli("surrogate", "fit", "--table", str(smoke_table_path), "--out", str(out), *extra)
    r.assert_user_error(*fragments)  # type: ignore[attr-defined]
    assert not out.exists()


def test_surrogate_commands_take_table_names(cli: Cli, tmp_path: Path) -> None:
    """'Found by name anywhere a table is read': fit --table and eval --test too."""
    out = tmp_path / "m"
    r = cli("surrogate", "fit", "--table", "cell-mnist1d-tiny", "--fraction", "cell=0.01",
            "--param", "n_estimators=5", "--out", str(out))  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    r = cli("surrogate", "eval", "--models", str(out), "--test", "cell-mnist1d-tiny",
            "--test", "cell-mnist1d-tiny", "--json")  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    res = json.loads(r.out)  # type: ignore[attr-defined]
    assert list(res) == ["cell"] and res["cell"]["n_train"] == 65  # 1% of 6,466 classes
    assert 0 < res["cell"]["kendall_tau"] <= 1
    r = cli("surrogate", "eval", "--models", str(out), "--test", "nb201-cifar10")
    r.assert_user_error("holds imported results (NAS-Bench-201", "same protocol")  # type: ignore[attr-defined]


def test_surrogate_predict_names_the_space_a_string_belongs_to(cli: Cli) -> None:
    cell = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    r = cli("surrogate", "predict", cell, "--space", "chain")
    r.assert_user_error("is not a 'chain' architecture", "pass --space cell")  # type: ignore[attr-defined]
    r = cli("surrogate", "predict", "garbage", "--space", "chain")
    r.assert_user_error("'garbage' is not a 'chain' architecture", "check the string")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            [
                "train",
                "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                "--seed",
                "99999999999999999999",
            ],
            "a seed must be at most 4294967295",
        ),  # fmt: skip
        (["sweep", "--out", "x", "--seeds", "0,99999999999999999999"], "is above 4294967295"),
        (["leaderboard", "--quick", "--seeds", "99999999999"], "must be at most 10000"),
        (["space", "sample", "cell", "--seed", "4294967296"], "a seed must be at most"),
        (["surrogate", "fit", "--out", "x", "--seed", "4294967296"], "a seed must be at most"),
        (["surrogate", "fit", "--out", "x", "--split-seed", "2**40"], "expected an integer seed"),
        (["sweep", "--out", "x", "--sample", "1", "--sample-seed", "-3"], "must be >= 0"),
    ],
    ids=[
        "train",
        "sweep",
        "leaderboard-count",
        "space-sample",
        "surrogate-seed",
        "surrogate-split-seed",
        "sweep-sample-seed",
    ],
)
def test_huge_seeds_are_refused_at_parse_time(cli: Cli, args: list[str], fragment: str) -> None:
    """Seeds past 2**63 crashed torch with 'Overflow when unpacking long long', and a
    leaderboard of 99,999,999,999 seeds ran out of memory building the list."""
    cli(*args).assert_user_error(fragment)


def test_train_refuses_an_out_of_range_seed() -> None:
    from nasrepro.bench.harness import train
    from nasrepro.spaces import ConfigError

    for bad in (-1, 2**32, 2**70):
        with pytest.raises(ConfigError, match=r"seed must lie in \[0, 4294967295\]"):
            train("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "synthetic-smoke", bad)


def test_a_batch_larger_than_a_chunk_is_refused(cli: Cli, tmp_path: Path) -> None:
    """The help says K <= --chunk-size; 99 was accepted and silently capped."""
    out = tmp_path / "s"
    cli(*sweep_args(out, "--batched", "99")).assert_user_error(
        "--batched 99 exceeds --chunk-size 16", "--chunk-size 99"
    )
    assert not out.exists()


def test_an_architecture_of_another_space_is_named_as_such(
    cli: Cli, smoke_table_path: Path
) -> None:
    """A chain string given to a cell table said only where the cell parser stopped
    ('expected 3 node groups'); a cell string given to a chain or hierarchical search
    likewise (a bad-input audit)."""
    chain = "conv3x3@1.0|skip@1.0|conv5x5@0.5"
    for args in (
        ["table", "query", chain, "--table", str(smoke_table_path)],
        ["reproduce", chain, "--table", str(smoke_table_path)],
    ):
        cli(*args).assert_user_error(
            f"'{chain}' is a 'chain' architecture", "of the 'cell' space", "a 'chain' table"
        )
    cell = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
    for space in ("chain", "hierarchical"):
        with pytest.raises(ValueError, match=f"is a 'cell' architecture, .* the '{space}' space"):
            parse_in(get_space(space), cell)
    with pytest.raises(ValueError, match="expected 3 node groups") as e:
        parse_in(get_space("cell"), "|none~0|+|")  # no space's string: the parser's own error
    assert "architecture, but" not in str(e.value)


def test_two_tables_given_two_ways_are_refused(cli: Cli, smoke_table_path: Path) -> None:
    """``table info A --table B`` read B and ignored A without a word (a bad-input audit)."""
    for cmd in ("info", "top"):
        r = cli("table", cmd, "nb201-cifar10", "--table", str(smoke_table_path))
        r.assert_user_error("two tables given", "TABLE 'nb201-cifar10'", "give one")
        assert r.out == ""
    same = cli("table", "info", str(smoke_table_path), "--table", str(smoke_table_path))
    assert same.rc == 0 and str(smoke_table_path) in same.out

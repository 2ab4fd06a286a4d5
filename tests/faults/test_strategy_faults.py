"""User strategies that raise, fail to import or hang: one clear error, never a traceback dump.

Each case is a real strategy file written by the test and run by ``run_leaderboard``,
``validate`` and the ``nasrepro`` command, in this process (``--jobs 1``) and in worker
processes (``--jobs 2``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasrepro.bench.sim import (
    BenchmarkSpec,
    LeaderboardConfig,
    results_dict,
    run_leaderboard,
    summarize,
)
from nasrepro.bench.sim._validate import validate
from nasrepro.spaces import ConfigError
from nasrepro.strategies import StrategyError, StrategyGuard, load_strategy
from nasrepro.strategies._base import user_module_name
from nasrepro.tables import Table

ROOT = Path(__file__).resolve().parents[2]
NASREPRO = [sys.executable, "-m", "nasrepro.bench.cli"]

FAULTY = """
import time

from nasrepro.strategies import RandomSearch


def divide(n):
    return 1 / (n - n)  # the user's bug


class InitFails(RandomSearch):
    def __init__(self, *args, **kwargs):
        raise RuntimeError("init went wrong")


class AskFailsFirst(RandomSearch):
    def ask(self):
        raise KeyError("no such key")


class AskFailsAfter60(RandomSearch):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_calls = 0

    def ask(self):
        self.n_calls += 1
        if self.n_calls > 60:
            divide(self.n_calls)
        return super().ask()


class TellFails(RandomSearch):
    def tell(self, trial, evaluation):
        raise TypeError("tell went wrong")


class HangsInAsk(RandomSearch):
    def ask(self):
        while True:  # the user's hang
            pass


class HangsInInit(RandomSearch):
    def __init__(self, *args, **kwargs):
        time.sleep(3600)  # the user's hang


class AsksBeyondMaxEpoch(RandomSearch):
    def ask(self):
        trial = super().ask()
        return type(trial)(trial.arch, self.max_epoch + 1)  # breaks the contract


class IteratesASet(RandomSearch):
    # asks again the first architecture its set of strings yields: deterministic within
    # a process, not across them (string hashes are salted per process)

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = set()

    def ask(self):
        trial = super().ask()
        if len(self.seen) >= 3:
            return type(trial)(self.space.parse(next(iter(self.seen))))
        return trial

    def tell(self, trial, evaluation):
        self.seen.add(trial.arch.to_string())


class IgnoresItsSeed(RandomSearch):
    def __init__(self, *a, **k):
        import numpy as np

        super().__init__(*a, **k)
        self.rng = np.random.default_rng(0)  # the same draws whatever the seed


class UsesGlobalRandom(RandomSearch):
    def ask(self):
        import random

        import numpy as np

        trial = super().ask()
        rng = np.random.default_rng(random.randrange(2**31))  # unseeded
        return type(trial)(self.space.sample(rng))


class AsksTheFirstEpoch(RandomSearch):
    def ask(self):
        trial = super().ask()
        return type(trial)(trial.arch, 1)  # fine with learning curves, not without


class AsksANumpyEpoch(RandomSearch):
    def ask(self):
        import numpy as np

        trial = super().ask()
        return type(trial)(trial.arch, np.int64(self.max_epoch))


class ReturnsAnArch(RandomSearch):
    def ask(self):
        return super().ask().arch  # an architecture, not a Trial


class ReturnsAString(RandomSearch):
    def ask(self):
        trial = super().ask()
        return type(trial)(trial.arch.to_string())  # a string where an architecture goes


class ReturnsAChainArch(RandomSearch):
    def ask(self):
        import numpy as np

        from nasrepro.spaces import get_space
        from nasrepro.strategies import Trial

        return Trial(get_space("chain").sample(np.random.default_rng(0)))  # another space


class WaitsWithNothingPending(RandomSearch):
    def ask(self):
        return None
"""

IMPORT_FAILS = """
from nasrepro.strategies import RandomSearch

raise RuntimeError("module-level failure")  # the user's bug


class Mine(RandomSearch):
    pass
"""

SYNTAX_ERROR = """
from nasrepro.strategies import RandomSearch


class Mine(RandomSearch):
    def ask(self)
        return None
"""

#: case -> (class, what failed, expected trial counts, the user's line shown)
CASES = {
    "init": ("InitFails", "RuntimeError in __init__()", "0 trials asked, 0 told", "raise Runtime"),
    "ask-first": ("AskFailsFirst", "KeyError in ask()", "0 trials asked, 0 told", "raise KeyError"),
    "ask-after-60": (
        "AskFailsAfter60",
        "ZeroDivisionError in ask()",
        "60 trials asked, 60 told",
        "return 1 / (n - n)",
    ),
    "tell": ("TellFails", "TypeError in tell()", "1 trials asked, 0 told", "raise TypeError"),
}


@pytest.fixture(scope="module")
def spec(smoke_table_path: Path) -> BenchmarkSpec:
    return BenchmarkSpec(table=str(smoke_table_path))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("user_strategies")
    (d / "faulty.py").write_text(FAULTY)
    (d / "import_fails.py").write_text(IMPORT_FAILS)
    (d / "syntax_error.py").write_text(SYNTAX_ERROR)
    return d


@pytest.fixture(scope="module")
def reference(spec: BenchmarkSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real reference results.json on the smoke table (two seeds of random search)."""
    lb = run_leaderboard(LeaderboardConfig(spec, ("random-search",), (0, 1), "100q"))
    path = tmp_path_factory.mktemp("reference") / "ref.json"
    path.write_text(json.dumps(results_dict(lb, summarize(lb))))
    return path


def _config(spec: BenchmarkSpec, strategy: str, jobs: int, **kw: object) -> LeaderboardConfig:
    return LeaderboardConfig(spec, (strategy,), (5, 6), "100q", jobs=jobs, **kw)  # type: ignore[arg-type]


def _check_message(
    e: StrategyError, label: str, case: str, seeds: str = "[56]", counts: str | None = None
) -> None:
    _, what, expected_counts, line = CASES[case]
    counts = counts or expected_counts
    msg = str(e)
    assert e.message.startswith(f"strategy {label!r} raised {what}"), msg
    assert re.search(rf"\(seed {seeds}, {counts}\)", e.message), msg
    assert "\n" not in e.message  # one line, then the user's traceback
    assert "strategy traceback (most recent call last):" in msg
    assert "faulty.py" in msg and line in msg
    frames = [ln for ln in e.user_traceback.splitlines() if ln.startswith('  File "')]
    assert frames and all("faulty.py" in f for f in frames)  # the user's frames only


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_leaderboard_reports_a_failing_strategy(
    spec: BenchmarkSpec, files: Path, case: str, jobs: int
) -> None:
    """The runs' own guard, in this process and in workers; the contract check that
    would catch most of these first is off here (see the next test)."""
    label = f"{files / 'faulty.py'}:{CASES[case][0]}"
    with pytest.raises(StrategyError) as info:
        run_leaderboard(_config(spec, label, jobs), check_contracts=False)
    _check_message(info.value, label, case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_leaderboard_checks_the_contract_before_its_runs(
    spec: BenchmarkSpec, files: Path, case: str, tmp_path: Path
) -> None:
    """A failure within the check's 20 tells is reported from it (seed 0) and no run is
    stored; one that comes later is reported by the runs."""
    label = f"{files / 'faulty.py'}:{CASES[case][0]}"
    with pytest.raises(StrategyError) as info:
        run_leaderboard(_config(spec, label, 1), runs_dir=tmp_path / "runs")
    if case == "ask-after-60":
        _check_message(info.value, label, case)
    else:
        assert "during the contract check" in info.value.message
        counts = "2 trials asked, 0 told" if case == "tell" else None
        _check_message(info.value, label, case, seeds="0", counts=counts)
        assert not list((tmp_path / "runs").glob("*.json"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_reports_a_failing_strategy(
    spec: BenchmarkSpec, files: Path, reference: Path, case: str
) -> None:
    label = f"{files / 'faulty.py'}:{CASES[case][0]}"
    with pytest.raises(StrategyError) as info:
        validate(label, spec, seeds=2, reference=reference, retrain=False, jobs=1)
    if case == "ask-after-60":  # passes the 20-tell contract check, fails in the runs,
        # whose seeds follow the reference's (0, 1)
        _check_message(info.value, label, case, seeds="[23]")
    else:  # fails already in the contract check, which runs seed 0
        assert "during the contract check" in info.value.message
        # the check runs two workers: two trials are asked before the first tell
        counts = "2 trials asked, 0 told" if case == "tell" else None
        _check_message(info.value, label, case, seeds="0", counts=counts)


@pytest.mark.parametrize("name", ["import_fails", "syntax_error"])
def test_a_module_that_does_not_import(spec: BenchmarkSpec, files: Path, name: str) -> None:
    label = f"{files / name}.py:Mine"
    with pytest.raises(StrategyError) as info:
        load_strategy(label)
    msg = str(info.value)
    assert info.value.message.startswith(f"strategy {label!r} raised")
    assert "import of its module" in msg and f"{name}.py" in msg
    if name == "syntax_error":
        assert "SyntaxError" in msg and "line 6" in msg and "def ask(self)" in msg
    else:
        assert "RuntimeError: module-level failure" in msg and "raise RuntimeError" in msg
    assert user_module_name(files / f"{name}.py") not in sys.modules  # none half-imported
    with pytest.raises(StrategyError):  # and the leaderboard reports the same
        run_leaderboard(_config(spec, label, 2))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_hanging_ask_times_out(spec: BenchmarkSpec, files: Path, jobs: int) -> None:
    label = f"{files / 'faulty.py'}:HangsInAsk"
    t0 = time.monotonic()
    with pytest.raises(StrategyError) as info:
        run_leaderboard(_config(spec, label, jobs, strategy_timeout=1.0), check_contracts=False)
    assert time.monotonic() - t0 < 30
    msg = str(info.value)
    assert re.search(r"did not return from ask\(\) within 1 s \(seed [56], 0 trials asked", msg)
    assert "--strategy-timeout" in msg
    assert "faulty.py" in msg and "while True:  # the user's hang" in msg


def test_the_guard_resumes_an_outer_alarm() -> None:
    """pytest-timeout (or a user's own alarm) keeps working around guarded calls."""
    fired: list[int] = []
    old = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.5)  # ample: a loaded 2-core CI box is slow
        assert StrategyGuard("s", 0, timeout_s=5).call("ask()", time.sleep, 0.1) is None
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 1.5 - 0.1 + 1e-3
        time.sleep(left + 0.5)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _cli(
    spec: BenchmarkSpec, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NASREPRO, *args, "--table", str(spec.table), "--no-track"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _assert_one_error(out: subprocess.CompletedProcess[str], label: str) -> None:
    assert out.returncode == 2, out.stderr
    assert "Traceback (most recent call last)" not in out.stderr, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("nasrepro: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"nasrepro: error: strategy {label!r}")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_leaderboard_with_a_strategy_failing_after_60_asks(
    spec: BenchmarkSpec, files: Path, tmp_path: Path, jobs: str
) -> None:
    label = f"{files / 'faulty.py'}:AskFailsAfter60"
    out = _cli(
        spec,
        "leaderboard",
        "--strategies",
        label,
        "--seeds",
        "5,6",
        "--budget",
        "100q",
        "--jobs",
        jobs,
        "--out",
        str(tmp_path / "lb"),
        cwd=tmp_path,
    )
    _assert_one_error(out, label)
    assert re.search(r"\(seed [56], 60 trials asked, 60 told\)", out.stderr)
    assert "strategy traceback (most recent call last):" in out.stderr
    assert "return 1 / (n - n)  # the user's bug" in out.stderr
    # the way on: both seeds failed, so no run is kept (it said "the 0 finished runs in
    # ... are kept ... to go on from them"), and the same command is the way on
    assert "no run had finished, so none is kept" in out.stderr
    assert "run the same command again" in out.stderr


def test_cli_leaderboard_with_a_strategy_failing_before_any_run_claims_no_runs(
    spec: BenchmarkSpec, files: Path, tmp_path: Path
) -> None:
    """It said "the 0 finished runs in ... are kept ... to go on from them" (a walkthrough)."""
    label = f"{files / 'faulty.py'}:AskFailsFirst"
    out = _cli(spec, "leaderboard", "--strategies", label, "--seeds", "5", "--budget", "100q",
               "--jobs", "1", "--out", str(tmp_path / "lb"), cwd=tmp_path)  # fmt: skip
    _assert_one_error(out, label)
    assert "no run had finished, so none is kept" in out.stderr
    assert "0 finished runs" not in out.stderr


def test_cli_table_compare_with_a_strategy_failing_after_60_asks(
    spec: BenchmarkSpec, files: Path, tmp_path: Path
) -> None:
    """The comparison stops with the strategy's error, says its finished runs are kept,
    and the same command, once the strategy is fixed, goes on from them."""
    shutil.copy(files / "faulty.py", tmp_path / "mine.py")
    label = f"{tmp_path / 'mine.py'}:AskFailsAfter60"
    argv = [*NASREPRO, "table", "compare", str(spec.table), "nb201-cifar10", "--strategies"]
    tail = ["--seeds", "5,6", "--budget", "100q", "--jobs", "1"]
    out = subprocess.run(
        [*argv, f"random-search,{label}", *tail],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    _assert_one_error(out, label)
    runs = tmp_path / "compare-runs"
    kept = sorted(p.name for p in runs.glob("*/*.json"))
    assert kept == ["random-search-seed5.json", "random-search-seed6.json"]
    assert f"the 2 finished runs under {runs.name} are kept" in out.stderr
    assert "run the same command again" in out.stderr
    # fixed (here: dropped), the same comparison reads random-search's runs back
    out = subprocess.run(
        [*argv, "random-search,regularized-evolution", *tail],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    digest = Table.open(spec.table).attrs["metrics_sha256"][:8]
    assert out.stdout.rstrip().endswith(
        f"2 runs read back from compare-runs/cell-mnist1d-smoke-{digest}-100q and "
        "compare-runs/nb201-cifar10-100q"
    )


def test_cli_validate_with_a_syntax_error(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path
) -> None:
    label = f"{files / 'syntax_error.py'}:Mine"
    out = _cli(spec, "validate", "--strategy", label, "--reference", str(reference), cwd=tmp_path)
    _assert_one_error(out, label)
    assert "SyntaxError" in out.stderr and "def ask(self)" in out.stderr and "line 6" in out.stderr


def test_cli_validate_with_a_contract_breach(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path
) -> None:
    """A strategy that breaks the contract is the user's error: one line, exit 2."""
    label = f"{files / 'faulty.py'}:AsksBeyondMaxEpoch"
    out = _cli(
        spec,
        "validate",
        "--strategy",
        label,
        "--reference",
        str(reference),
        "--no-retrain",
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"nasrepro: error: {label} breaks the strategy contract: "), line
    assert "outside 1.." in line, line


@pytest.mark.parametrize(
    ("cls", "jobs", "says"),
    [
        ("ReturnsAnArch", "1", "ask() returned CellArch(ops="),
        ("ReturnsAString", "2", "ask() returned a Trial of str, not of a CellArch of the 'cell'"),
        ("ReturnsAChainArch", "1", "ask() returned a Trial of ChainArch, not of a CellArch"),
        ("AsksBeyondMaxEpoch", "2", "ask() returned a Trial at epoch 3, outside 1..2"),
        ("WaitsWithNothingPending", "1", "ask() returned None with no trial pending"),
        ("AsksANumpyEpoch", "1", "epoch np.int64(2) is a int64, not an int"),
    ],
)
def test_cli_leaderboard_with_a_contract_breach(
    spec: BenchmarkSpec, files: Path, tmp_path: Path, cls: str, jobs: str, says: str
) -> None:
    """The leaderboard names the breach as validate's contract check does: one line, exit 2."""
    label = f"{files / 'faulty.py'}:{cls}"
    out = _cli(
        spec,
        "leaderboard",
        "--strategies",
        f"random-search,{label}",
        "--seeds",
        "2",
        "--budget",
        "20q",
        "--jobs",
        jobs,
        "--out",
        str(tmp_path / "lb"),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("nasrepro: error:")]
    assert len(errors) == 1, out.stderr
    # the contract check names it before any run (the runs' guard adds "(seed N, ...)")
    assert errors[0].startswith(f"nasrepro: error: {label} breaks the strategy contract: ")
    assert says in errors[0], errors[0]
    assert not list((tmp_path / "lb" / "runs").glob("*.json"))  # random-search ran none


@pytest.mark.parametrize(
    ("command", "jobs"), [("leaderboard", "2"), ("validate", "1"), ("validate", "2")]
)
def test_cli_times_out_a_hanging_module_strategy(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path, command: str, jobs: str
) -> None:
    """``module:Class`` found on PYTHONPATH, hanging in ``__init__``, with a 1 s limit."""
    label = "faulty:HangsInInit"
    which = ["--strategies", label] if command == "leaderboard" else ["--strategy", label]
    extra = (
        ["--seeds", "5,6", "--budget", "100q", "--out", str(tmp_path / "lb")]
        if command == "leaderboard"
        else ["--seeds", "2", "--reference", str(reference), "--no-retrain"]
    )
    t0 = time.monotonic()
    out = _cli(
        spec,
        command,
        *which,
        *extra,
        "--jobs",
        jobs,
        "--strategy-timeout",
        "1",
        cwd=tmp_path,
        env={"PYTHONPATH": str(files)},
    )
    assert time.monotonic() - t0 < 60
    _assert_one_error(out, label)
    assert "did not return from __init__() within 1 s" in out.stderr
    assert "time.sleep(3600)  # the user's hang" in out.stderr


def test_files_of_one_name_are_two_modules_and_an_edit_is_imported(tmp_path: Path) -> None:
    """``v1/mine.py`` and ``v2/mine.py`` used to share one module (the first one won), and
    an edited file kept its old code for the rest of the process."""
    src = "from nasrepro.strategies import RandomSearch\n\nclass Mine(RandomSearch):\n    TAG = {!r}\n"
    paths = {v: tmp_path / v / "mine.py" for v in ("v1", "v2")}
    for v, p in paths.items():
        p.parent.mkdir()
        p.write_text(src.format(v))
    assert [load_strategy(f"{p}:Mine").TAG for p in paths.values()] == ["v1", "v2"]  # type: ignore[attr-defined]
    v1 = f"{paths['v1']}:Mine"
    assert load_strategy(v1) is load_strategy(v1)  # unchanged: imported once
    paths["v1"].write_text(src.format("v1, edited"))
    assert load_strategy(v1).TAG == "v1, edited"  # type: ignore[attr-defined]


def test_an_early_epoch_on_a_table_without_curves_names_the_strategy(
    files: Path, tmp_path: Path
) -> None:
    """NB201's tables hold the final epoch only: a strategy asking for epoch 1 was ended by
    the table's own error, which named no strategy, seed or trial."""
    label = f"{files / 'faulty.py'}:AsksTheFirstEpoch"
    args = ["--table", "nb201-cifar10", "--no-track", "--seeds", "1"]
    lb = [*NASREPRO, "leaderboard", "--strategies", label, *args, "--budget", "5x"]
    out = subprocess.run(
        [*lb, "--out", str(tmp_path / "lb")], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"nasrepro: error: {label} breaks the strategy contract: ")
    assert "final epoch 12 only (no learning curves); ask for epoch None" in line, line
    bohb = "nasrepro.strategies._hyperband:BOHB"
    out = subprocess.run(
        [*NASREPRO, "validate", "--strategy", bohb, *args, "--no-retrain"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "is a multi-fidelity strategy" in out.stderr and "n/a there" in out.stderr


def test_validate_catches_a_strategy_that_differs_across_processes(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path
) -> None:
    """It passed the in-process determinism check, then differed between a leaderboard's
    workers. A fixed hash seed here makes the test itself deterministic."""
    label = f"{files / 'faulty.py'}:IteratesASet"
    args = ["validate", "--strategy", label, "--reference", str(reference), "--no-retrain"]
    out = _cli(spec, *args, cwd=tmp_path, env={"PYTHONHASHSEED": "123"})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.splitlines()
    assert f"{label} breaks the strategy contract: not deterministic across processes" in line
    assert "iterate over sorted(...)" in line


def test_validate_warns_of_a_strategy_that_ignores_its_seed(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path
) -> None:
    """Its 30 "independent" runs were one run repeated, without a word."""
    for label, warned in (
        (f"{files / 'faulty.py'}:IgnoresItsSeed", True),
        ("nasrepro.strategies._random:RandomSearch", False),  # the control
    ):
        args = ["validate", "--strategy", label, "--reference", str(reference), "--no-retrain"]
        out = _cli(spec, *args, "--seeds", "3", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        said = "seems to ignore its seed (draw from self.rng)" in out.stdout
        assert said == warned, out.stdout


@pytest.mark.parametrize(
    ("cls", "says"),
    [
        ("UsesGlobalRandom", "not deterministic for seed 0: trial 0 was"),
        ("IteratesASet", "not deterministic across processes for seed 0"),
    ],
)
def test_cli_leaderboard_refuses_a_strategy_that_is_not_deterministic(
    spec: BenchmarkSpec, files: Path, tmp_path: Path, cls: str, says: str
) -> None:
    """Three identical leaderboards of an unseeded strategy gave three mean regrets, with
    no word; its runs were stored and mixed into later results.json files."""
    label = f"{files / 'faulty.py'}:{cls}"
    lb = ["leaderboard", "--strategies", label, "--seeds", "2", "--budget", "20q"]
    hashes = {"PYTHONHASHSEED": "123"}  # a set's order here, against hash seed 0 there
    out = _cli(spec, *lb, "--out", str(tmp_path / "lb"), cwd=tmp_path, env=hashes)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"nasrepro: error: {label} breaks the strategy contract: {says}")
    fix = "self.rng" if cls == "UsesGlobalRandom" else "iterate over sorted(...)"
    assert fix in line
    assert not list((tmp_path / "lb" / "runs").glob("*.json"))


def test_cli_leaderboard_warns_of_a_strategy_that_ignores_its_seed(
    spec: BenchmarkSpec, files: Path, tmp_path: Path
) -> None:
    label = f"{files / 'faulty.py'}:IgnoresItsSeed"
    lb = ["leaderboard", "--strategies", f"random-search,{label}", "--seeds", "3"]
    out = _cli(spec, *lb, "--budget", "20q", "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    warned = [ln for ln in out.stderr.splitlines() if "seems to ignore its seed" in ln]
    assert len(warned) == 1 and label in warned[0], out.stderr  # not random-search
    assert warned[0].startswith("WARNING "), warned  # on its own line, not after the bar
    # and in every report, where it was missing (the CIs printed with no caveat)
    lb_dir = tmp_path / "lb"
    results = json.loads((lb_dir / "results.json").read_text())
    assert list(results["warnings"]) == [label]
    for name in ("leaderboard.md", "leaderboard.html", "leaderboard.tex"):
        text = (lb_dir / name).read_text()
        assert "seems to ignore its seed" in text and text.count("ignore its seed") == 1, name


def test_validate_from_a_script_without_a_main_guard(
    spec: BenchmarkSpec, files: Path, reference: Path, tmp_path: Path
) -> None:
    """The fresh-process check used a multiprocessing spawn, which imports the caller's
    ``__main__`` again: a plain script crashed in its bootstrapping, or ran twice."""
    script = tmp_path / "mine.py"
    script.write_text(
        "from nasrepro.bench.sim import BenchmarkSpec, validate\n"
        f"spec = BenchmarkSpec(table={str(spec.table)!r})\n"
        f"rep = validate('{files / 'faulty.py'}:IgnoresItsSeed', spec, seeds=2,\n"
        f"               reference={str(reference)!r}, retrain=False, track=False)\n"
        "print('ran once', rep.n_ranked)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("ran once") == 1, out.stdout


MINE = """
from nasrepro.strategies import Strategy, Trial


class Mine(Strategy):
    def ask(self):
        return Trial(self.space.sample(self.rng), self.max_epoch)

    def tell(self, trial, evaluation):
        pass


class NoSuper(Mine):
    def __init__(self, space, *, max_epoch, seed=None):
        self.k = 3
"""


def test_common_slips_get_their_fix(spec: BenchmarkSpec, tmp_path: Path) -> None:
    """A walkthrough's slips: a file without its class, a misspelled class, and an
    __init__ that skips super().__init__ (an AttributeError on 'space', no hint)."""
    f = tmp_path / "mine.py"
    f.write_text(MINE)
    with pytest.raises(ConfigError, match=rf"names a file, not a class in it: pass '{f}:Mine'"):
        load_strategy(str(f))
    with pytest.raises(
        ConfigError, match=r"no attribute 'Mne'; its Strategy subclasses: Mine, NoSuper"
    ):
        load_strategy(f"{f}:Mne")
    with pytest.raises(StrategyError) as info:
        run_leaderboard(_config(spec, f"{f}:NoSuper", 1))
    assert "no attribute 'space'" in str(info.value)
    assert "call super().__init__(space, max_epoch=max_epoch, seed=seed)?" in str(info.value)


def test_table_compare_warns_of_a_strategy_that_ignores_its_seed(
    spec: BenchmarkSpec, files: Path, tmp_path: Path
) -> None:
    label = f"{files / 'faulty.py'}:IgnoresItsSeed"
    args = [*NASREPRO, "table", "compare", str(spec.table), "nb201-cifar10", "--strategies",
            f"random-search,{label}", "--seeds", "3", "--budget", "20q", "--jobs", "1"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("warning ")]
    assert label in line and "seems to ignore its seed" in line  # once, though it ran twice

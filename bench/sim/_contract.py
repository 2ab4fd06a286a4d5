"""The strategy contract, checked before a user's strategy spends a leaderboard's runs.

:func:`check_contract` drives a ``module:Class`` strategy for :data:`CHECK_TELLS`
trials with seed 0: twice in this process and once from a pickled copy
(:func:`~nasrepro.strategies.check_strategy`), then once more in a fresh interpreter
with another string-hash seed. Both ``nasrepro validate`` and ``nasrepro leaderboard``
run it, so a strategy that draws from the global ``random`` module or iterates over a
set of strings is refused before its runs are stored, not found out when a rerun
disagrees.

The fresh interpreter is a plain ``python -c`` child (not a ``multiprocessing``
spawn), so a user's script that calls :func:`~nasrepro.bench.sim.validate` at top
level is not imported again in the child.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasrepro.strategies import (
    StrategyContractError,
    StrategyGuard,
    check_strategy,
    drive,
    load_strategy,
)
from nasrepro.tables import Benchmark

if TYPE_CHECKING:
    from nasrepro.bench.sim._leaderboard_run import BenchmarkSpec

__all__ = ["CHECK_TELLS", "check_contract", "seed_note"]

#: Results the contract check tells the strategy per drive.
CHECK_TELLS = 20

TrialKey = tuple[str, "int | None", bool]

# The child: read (sys.path, args) from the file named by argv[1], write its answer to
# argv[2]. Its stdout and stderr stay the strategy's own (a print in ask() is harmless).
_CHILD = """
import pickle, sys
with open(sys.argv[1], "rb") as f:
    path, args = pickle.load(f)
sys.path[:] = path
try:
    from nasrepro.bench.sim._contract import _drive_elsewhere
    answer = ("ok", _drive_elsewhere(*args))
except BaseException as e:
    answer = ("error", f"{type(e).__name__}: {e}")
with open(sys.argv[2], "wb") as f:
    pickle.dump(answer, f)
"""


def check_contract(
    label: str,
    cls: type,
    bench: Benchmark,
    spec: BenchmarkSpec,
    timeout_s: float,
) -> list[TrialKey]:
    """Check ``cls`` (loaded from ``label``) on ``bench``; returns the first drive's trials.

    Raises:
        StrategyContractError: A rule is broken; the message names the rule and the fix.
        StrategyError: The strategy's own code raised or hung during the check.
    """
    try:
        asked = check_strategy(
            cls, bench, n_tells=CHECK_TELLS, workers=2, label=label, timeout_s=timeout_s
        )
    except AssertionError as e:
        raise StrategyContractError(f"{label} breaks the strategy contract: {e}") from e
    _check_across_processes(asked, label, spec, timeout_s)
    return asked


def _drive_elsewhere(
    label: str, spec: BenchmarkSpec, n_tells: int, timeout_s: float
) -> list[TrialKey]:
    """:func:`check_strategy`'s first drive, in the fresh interpreter."""
    from nasrepro.bench.sim._leaderboard_run import open_benchmark

    bench = open_benchmark(spec)
    cls = load_strategy(label, timeout_s=timeout_s)
    g = StrategyGuard(label, 0, timeout_s, context="the contract check")
    s = g.construct(cls, bench.space, max_epoch=bench.max_epoch, seed=0)
    return drive(s, bench, n_tells, workers=2, seed=0, guard=g)


def _check_across_processes(
    asked: list[TrialKey], label: str, spec: BenchmarkSpec, timeout_s: float
) -> None:
    """The same seed must ask the same trials in another process too. Python salts the
    hashes of strings per process, so a strategy that iterates over a set of them
    passes an in-process check and still differs between a leaderboard's workers.
    One fresh interpreter with another hash seed (``PYTHONHASHSEED``) repeats the drive."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "1" if env.get("PYTHONHASHSEED") == "0" else "0"
    with tempfile.TemporaryDirectory(prefix="nasrepro-contract-") as tmp:
        args_path, answer_path = Path(tmp) / "args.pkl", Path(tmp) / "answer.pkl"
        args_path.write_bytes(pickle.dumps((list(sys.path), (label, spec, CHECK_TELLS, timeout_s))))
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(args_path), str(answer_path)],
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if not answer_path.is_file():
            raise StrategyContractError(
                f"{label}: the contract check's fresh process ended with exit code "
                f"{proc.returncode} before it answered (anything the strategy printed is "
                "above); look in it for os._exit, sys.exit at import, or native code that "
                "crashes"
            )
        status, there = pickle.loads(answer_path.read_bytes())
    if status != "ok" and there.startswith(f"ConfigError: unknown strategy {label!r}"):
        raise StrategyContractError(
            f"strategy {label!r} is registered in this process only (a notebook or a "
            "script); the fresh process that checks it, and a leaderboard's worker "
            "processes, cannot find it: keep the class in a file and pass "
            "'path/to/file.py:Class' (or an importable 'module:Class')"
        )
    if status != "ok":
        raise StrategyContractError(
            f"{label} breaks the strategy contract: seed 0 ran here, but in a fresh process "
            f"(PYTHONHASHSEED={env['PYTHONHASHSEED']}) it raised {there}; a strategy must not "
            "depend on the state of the process that runs it"
        )
    if there != asked:
        k = next(i for i, (a, b) in enumerate(zip(asked, there, strict=False)) if a != b)
        raise StrategyContractError(
            f"{label} breaks the strategy contract: not deterministic across processes for "
            f"seed 0: trial {k} was {asked[k]} here and {there[k]} in a fresh process. Python "
            "orders a set of strings differently in each process; iterate over "
            "sorted(...) of it"
        )


#: Trials whose sameness across every seed shows a strategy that ignores its seed.
SAME_FIRST = 10


def seed_note(runs: list[Any]) -> str:
    """A warning when every run asked the same first :data:`SAME_FIRST` architectures."""
    firsts = {tuple(r.archs[:SAME_FIRST]) for r in runs}
    if len(runs) < 2 or len(firsts) > 1 or len(next(iter(firsts))) < SAME_FIRST:
        return ""
    return (
        f"warning: all {len(runs)} runs asked the same first {SAME_FIRST} architectures, so "
        "the strategy seems to ignore its seed (draw from self.rng); its runs are then not "
        "independent, and their confidence intervals and tests overstate what they show"
    )

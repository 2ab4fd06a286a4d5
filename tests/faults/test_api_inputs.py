"""The Python API takes what the command line takes, and refuses the rest clearly.

An audit (2026-12-07) made about 200 plausible calls from a notebook: a name where an
object goes, a budget as text, an architecture of another space, a class for an
instance. Many ended in an ``AttributeError`` from deep inside or in a message that
blamed the wrong thing. Here each such call either works (names, text budgets and
counts are taken as the command line takes them) or raises a
:class:`~nasrepro.spaces.NasreproError` that names what was given and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard
from nasrepro.bench.sim._runner import Budget, parse_budget, run
from nasrepro.spaces import Block, BlockKind, CellSpec, NasreproError, Op, get_space, parse_any
from nasrepro.strategies import RandomSearch
from nasrepro.tables import Table, TabularBenchmark, compare_tables, open_table

CELL = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"
CHAIN = "conv3x3@1.0|skip@0.5"


def _refused(call: Any, *words: str) -> str:
    with pytest.raises(NasreproError) as info:
        call()
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_names_and_text_where_objects_go(smoke_table_path: Path) -> None:
    t = Table.open(smoke_table_path)
    r = run(RandomSearch("cell", max_epoch=t.final_epoch, seed=0), t, "5q")  # a Table, text
    assert r.n_evaluations == 5
    r2 = run(RandomSearch("cell", max_epoch=12, seed=0), "nb201-cifar10", "5q")  # a name
    assert r2.n_evaluations == 5
    assert TabularBenchmark("nb201-cifar10").name == "nb201-cifar10"
    assert compare_tables("nb201-cifar10", "nb201-cifar100").n_a == 15625
    cfg = LeaderboardConfig(benchmark=str(smoke_table_path), strategies="random-search",
                            seeds=2, budget=Budget("queries", 5))  # fmt: skip
    assert cfg.benchmark == BenchmarkSpec(table=str(smoke_table_path))
    assert (cfg.strategies, cfg.seeds, cfg.budget) == (("random-search",), (0, 1), "5q")
    assert len(run_leaderboard(cfg).runs["random-search"]) == 2
    assert LeaderboardConfig(benchmark="nb201-cifar10").benchmark.name == "nb201-cifar10"


def test_what_is_not_a_benchmark_strategy_or_budget_is_named() -> None:
    b = TabularBenchmark(open_table("nb201-cifar10"))
    _refused(lambda: run(RandomSearch, b, "5q"), "is a class", "pass an instance")
    _refused(lambda: run(object(), b, "5q"), "has no ask() and tell()")
    _refused(lambda: run(RandomSearch("cell", max_epoch=12), 42, "5q"), "is not a benchmark")
    _refused(lambda: RandomSearch(3, max_epoch=12), "space must be", "'cell'")
    _refused(lambda: TabularBenchmark(3), "expected a Table")
    _refused(lambda: LeaderboardConfig(seeds=2.5), "expected a count")
    _refused(lambda: LeaderboardConfig(jobs=0), "jobs=0", ">= 1")  # ran as jobs=1, silently
    _refused(lambda: LeaderboardConfig(benchmark=3.0), "expected a BenchmarkSpec")
    _refused(lambda: Budget("queries", "50"), "must be a number", "Budget.parse")
    _refused(lambda: Budget.parse("-5q"), "positive")
    _refused(lambda: Budget.parse("2.5q"), "whole number")
    _refused(lambda: Budget.parse([5]), "expected text")
    assert Budget.parse(100) == Budget("time", 100.0)
    assert Budget("queries", np.int64(5)) == Budget("queries", 5)  # numpy numbers are numbers
    assert parse_budget("20x", b) == Budget("time", 20.0)  # one unit per training
    _refused(lambda: parse_budget("3600s", b), "'100q'")


def test_architectures_of_another_space_are_named() -> None:
    cell, chain = get_space("cell"), get_space("chain")
    a_chain, a_cell = chain.parse(CHAIN), cell.parse(CELL)
    for call in (lambda: cell.encode(a_chain), lambda: cell.distance(a_cell, a_chain),
                 lambda: cell.mutate(a_chain, 0), lambda: chain.lower(a_cell)):  # fmt: skip
        _refused(call, "an architecture of the", "space")
    _refused(lambda: cell.sample(None), "int", "Generator")
    _refused(lambda: cell.sample(np.random.RandomState(0)), "Generator")
    _refused(lambda: parse_any(CELL, "chain"), "is a 'cell' architecture")
    from nasrepro.bench.harness._train import resolve_spec, train

    _refused(lambda: train(CHAIN, "synthetic-smoke", seed=0), "'chain' architecture", "--space")
    _refused(lambda: train(CELL, "synthetic-smoke", seed=0, device="gpu"), "'cpu', 'cuda'")
    assert resolve_spec(CELL, "synthetic-smoke")[2] == "cell"  # a protocol by name
    # a network lowered under another macro would be recorded as the protocol's
    big = cell.lower(a_cell, C=16, N=5)
    _refused(lambda: resolve_spec(big, "synthetic-smoke"), "not the network protocol", "C=4")
    from nasrepro.tables import get_protocol

    own = cell.lower(a_cell, **get_protocol("synthetic-smoke").macro())
    assert resolve_spec(own, "synthetic-smoke")[0] is own
    from nasrepro.bench.harness import compile_network

    _refused(lambda: compile_network(a_cell, 1, 10), "NetworkSpec", "space.lower")


def test_the_surrogate_names_the_space_of_a_wrong_string() -> None:
    from nasrepro.surrogate import Surrogate, SurrogateBenchmark, load_shipped

    s = load_shipped()
    _refused(lambda: s.predict([CELL], "chain"), "is a 'cell' architecture")
    _refused(lambda: s.predict([CELL] * 300, "chain"), "is a 'cell' architecture")  # batched
    _refused(lambda: s.predict([get_space("chain").parse(CHAIN)], "cell"), "'chain' space")
    _refused(lambda: SurrogateBenchmark(s, "chain").query(CELL), "is a 'cell' architecture")
    _refused(lambda: SurrogateBenchmark(Surrogate(), "chain"), "not fitted")
    _refused(lambda: SurrogateBenchmark(3, "chain"), "expected a Surrogate")


def test_tables_say_what_they_lack() -> None:
    t = open_table("nb201-cifar10")
    _refused(lambda: t.best("train_time_s"), "no class has a train_time_s value", "table info")
    _refused(lambda: t.top(5, "latency_s"), "(absent in its source)")
    _refused(lambda: t.top("5"), "non-negative int")  # type: ignore[arg-type]
    _refused(lambda: Table.open("nb201-cifar10"), "open_table('nb201-cifar10')")
    assert t.best("test_acc").epoch == 12


def test_a_block_kind_by_its_value() -> None:
    c = CellSpec(4, ((0, 3, Op.SKIP),))
    assert Block("cell", 4, 4, cell=c) == Block(BlockKind.CELL, 4, 4, cell=c)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected a BlockKind"):
        Block("cel", 4, 4, cell=c)  # type: ignore[arg-type]


NOTEBOOK = """
from nasrepro.bench.sim import validate
from nasrepro.strategies import RandomSearch, register_strategy

@register_strategy("notebook-only")
class NotebookOnly(RandomSearch):  # defined in __main__, as in a notebook
    pass

try:
    validate("notebook-only", seeds=2, retrain=False)
except Exception as e:
    print(type(e).__name__, e)
"""


def test_a_strategy_registered_in_a_notebook_is_told_to_live_in_a_file() -> None:
    """It ran in a leaderboard of this process, but validate's fresh-process check
    blamed the strategy ('must not depend on the state of the process')."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", NOTEBOOK], capture_output=True, text=True,
                         timeout=300, check=True).stdout  # fmt: skip
    assert out.startswith("StrategyContractError"), out
    assert "registered in this process only" in out and "file.py:Class" in out, out

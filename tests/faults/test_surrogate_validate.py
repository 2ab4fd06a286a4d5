"""``validate`` on the surrogate benchmarks: shipped references for chain and hierarchical."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nasrepro.bench.sim import load_reference
from nasrepro.strategies import list_strategies


@pytest.mark.parametrize(
    "name", ["chain-mnist1d-tiny-surrogate", "hierarchical-mnist1d-tiny-surrogate"]
)
def test_validate_finds_the_shipped_surrogate_reference(
    cli: Callable[..., object], name: str
) -> None:
    ref = load_reference(name)
    assert len(ref["config"]["seeds"]) == 100
    assert sorted(ref["strategies"]) == sorted(list_strategies()) and ref["skipped"] == {}
    r = cli(
        "validate", "--benchmark", name, "--strategy", "examples/my_strategy.py:TopKMutation",
        "--seeds", "3", "--no-retrain", "--no-track", "--jobs", "1",
    )  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert "among the references" in r.out  # type: ignore[attr-defined]
    for strategy in ("reinforce", "bohb", "random-search"):
        assert strategy in r.out  # type: ignore[attr-defined]

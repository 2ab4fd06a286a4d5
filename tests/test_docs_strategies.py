"""docs/leaderboards.md's table of strategies lists every registered strategy once, and
its defaults column is each strategy's ``__init__`` defaults, all of them: a changed
default without the doc fails here."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from nasrepro.strategies import list_strategies, load_strategy

DOC = Path(__file__).resolve().parents[1] / "docs" / "leaderboards.md"


def _rows() -> dict[str, str]:
    text = DOC.read_text()
    section = text[text.index("\n## The strategies\n") :]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `([a-z-]+)` \|[^|]*\| ([^|]*) \|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} listed twice"
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_every_strategy_is_listed_with_its_defaults() -> None:
    rows = _rows()
    assert sorted(rows) == sorted(list_strategies())
    for name, cell in rows.items():
        params = inspect.signature(load_strategy(name).__init__).parameters
        want = {
            k: p.default
            for k, p in params.items()
            if p.default is not inspect.Parameter.empty and k != "seed"
        }
        said = dict(re.findall(r"`(\w+)=([^`]+)`", cell))
        if cell == "none":
            assert want == {}, name
            continue
        assert set(said) == set(want), f"{name}: doc lists {sorted(said)}, code has {sorted(want)}"
        for k, v in said.items():
            assert ast.literal_eval(v) == want[k], f"{name}.{k}: doc {v}, code {want[k]!r}"

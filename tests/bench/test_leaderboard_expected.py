"""A fixed-seed quick leaderboard writes the same ``results.json`` as before (issue 22).

The expectation was written by the code before the ``bench/`` restructure; the
restructure must not change behaviour. Timing fields and the record of the environment
(versions, code version) are left out of the comparison. To regenerate it after a change
that is meant to change results, run this module with ``NASREPRO_REGENERATE=1`` and say
why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nasrepro.bench.cli import main

EXPECTED = Path(__file__).parent.parent / "data" / "leaderboard-quick-expected.json"
VOLATILE = ("timing", "environment")


def _stable(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if k not in VOLATILE}


def test_quick_leaderboard_results_are_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lb"
    argv = ["leaderboard", "--quick", "--no-track", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    got = _stable(json.loads((out / "results.json").read_text()))
    if os.environ.get("NASREPRO_REGENERATE") == "1":  # a regenerating run never passes
        EXPECTED.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        pytest.fail(f"regenerated {EXPECTED}; review the diff and commit it, saying why")
    expected = json.loads(EXPECTED.read_text())
    assert set(got) == set(expected)
    for key in expected:
        assert got[key] == expected[key], key  # exact, floats included

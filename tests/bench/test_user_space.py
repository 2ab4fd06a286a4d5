"""A researcher's own space through the command line, end to end (``$NASREPRO_PLUGINS``).

``examples/my_space.py`` registers ``tinycell``. Every command below runs in another
process than the one that could have registered it, and the sweep's workers are
spawned and the leaderboard's contract check is a fresh ``python -c``: before the
plugin mechanism each of them stopped with ``unknown space 'tinycell'``.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_space.py"
STRATEGY = f"{ROOT / 'examples' / 'my_strategy.py'}:TopKMutation"
NASREPRO = str(Path(sys.executable).with_name("nasrepro"))
OPS = ("none", "skip", "conv3x3", "avgpool3x3")


def _nasrepro(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NASREPRO_PLUGINS": str(EXAMPLE), "MLFLOW_TRACKING_URI": "file:./mlruns"}
    return subprocess.run(
        [NASREPRO, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.slow  # about 40 s: two spawned workers and two trainings
def test_sweep_workers_build_and_train_find_the_plugin_space(tmp_path: Path) -> None:
    (tmp_path / "archs.txt").write_text("conv3x3,skip,avgpool3x3\nskip,conv3x3,skip\n")
    sweep = _nasrepro(
        *("sweep", "--space", "tinycell", "--protocol", "synthetic-smoke", "--seeds", "0"),
        *("--archs", "archs.txt", "--out", "sw", "--workers", "2", "--chunk-size", "1"),
        *("--no-progress", "--no-track"),
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert "2 chunks trained" in sweep.stdout + sweep.stderr, sweep.stdout + sweep.stderr
    built = _nasrepro("table", "build", "sw", "-o", "part.h5", "--allow-partial", cwd=tmp_path)
    assert built.returncode == 0 and "space tinycell" in built.stdout + built.stderr, built.stderr
    trained = _nasrepro(
        *("train", "skip,conv3x3,skip", "--space", "tinycell", "--protocol", "synthetic-smoke"),
        *("--json", "--no-track"),
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["space"] == "tinycell"


def test_a_leaderboard_with_a_user_strategy_passes_the_contract_check(tmp_path: Path) -> None:
    with open(tmp_path / "rows.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch", "va", "te"])
        for i, ops in enumerate(itertools.product(OPS, repeat=3)):
            w.writerow([",".join(ops), 30 + (7 * i) % 50, 25 + (11 * i) % 50])
    imported = _nasrepro(
        *("table", "import", "rows.csv", "-o", "t.h5", "--space", "tinycell"),
        *("--search", "va", "--report", "te"),
        cwd=tmp_path,
    )
    assert imported.returncode == 0, imported.stderr
    board = _nasrepro(
        *("leaderboard", "--table", "t.h5", "--strategies", f"{STRATEGY},reinforce"),
        *("--seeds", "1", "--budget", "10q", "--jobs", "1", "--no-track", "--out", "lb"),
        cwd=tmp_path,
    )
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "TopKMutation" in text and "reinforce" in text, text

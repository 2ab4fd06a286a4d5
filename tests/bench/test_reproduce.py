"""``nasrepro reproduce``: retraining matches the table bitwise on the same device."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nasrepro.bench.cli import main
from nasrepro.bench.reproduce import reproduce
from nasrepro.bench.sweep import sweep
from nasrepro.spaces import get_space
from nasrepro.tables import Table, build, default_table_path, iter_chunks, read_chunk, write_chunk

CELLS = [
    "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|",
]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro-sweep")
    sweep("cell", "synthetic-smoke", [0, 1], out, archs=CELLS, chunk_size=2, progress=False)
    return out


@pytest.fixture(scope="module")
def table(sweep_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Table:
    path = tmp_path_factory.mktemp("repro-table") / "t.h5"
    build(sweep_dir, path)
    return Table.open(path)


def test_retraining_is_bitwise_identical(table: Table) -> None:
    rep = reproduce(table, CELLS[0], seed=1)
    assert rep.device == rep.table_device == "cpu"
    assert rep.mismatches == []
    assert rep.exact and rep.ok
    assert set(rep.final) >= {"valid_acc", "test_acc", "train_loss"}
    for old, new in rep.final.values():
        assert old == new


def test_a_changed_table_value_is_reported(sweep_dir: Path, tmp_path: Path) -> None:
    # Rewrite one chunk with a nudged valid loss at epoch 1, rebuild, and check that
    # reproduce names exactly that value.
    space = get_space("cell")
    target = space.canonical(space.parse(CELLS[0])).to_string()
    bad = tmp_path / "sweep"
    bad.mkdir()
    (bad / "sweep.json").write_bytes((sweep_dir / "sweep.json").read_bytes())
    for path in iter_chunks(sweep_dir):
        chunk = read_chunk(path)
        results = chunk["results"]
        if chunk["seed"] == 0:
            for r in results:
                if r.arch == target:
                    r.history["valid_loss"][0] += 1e-3
        write_chunk(bad, chunk["seed"], chunk["chunk"], chunk["protocol_id"], "cell", results)
    build(bad, tmp_path / "bad.h5")
    rep = reproduce(Table.open(tmp_path / "bad.h5"), CELLS[0], seed=0)
    assert not rep.exact and not rep.ok
    assert [(m[0], m[1]) for m in rep.mismatches] == [("valid_loss", 1)]


def test_unknown_seed_is_a_clear_error(table: Table) -> None:
    with pytest.raises(ValueError, match="seed=7 is not in the table"):
        reproduce(table, CELLS[0], seed=7)


def test_cli_reports_identical(table: Table, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", CELLS[1], "--seed", "0", "--table", str(table.path)]) == 0
    assert "IDENTICAL" in capsys.readouterr().out
    assert main(["reproduce", CELLS[1], "--seed", "0", "--table", str(table.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["exact"] is True


@pytest.mark.slow
def test_default_table_reproduces_on_cpu() -> None:
    """Two random cells of the shipped table retrain bitwise identically (issue 5)."""
    if default_table_path() is None:
        pytest.skip("no default table is shipped in this checkout yet")
    table = Table.open(default_table_path())
    rng = np.random.default_rng(2026)
    for row in rng.choice(len(table.archs), 2, replace=False):
        rep = reproduce(table, table.archs[int(row)], seed=int(rng.choice(table.seeds)))
        assert rep.exact, rep.mismatches[:3]

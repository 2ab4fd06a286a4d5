"""Fixtures: one real smoke sweep (6 cell classes x 2 seeds), built into a table once.

The sweep trains for real under the ``synthetic-smoke`` protocol through
``nasrepro.bench.harness._sweep.sweep``. Only where that module is absent (a checkout older
than the sweep harness) is the same directory format written by training each cell
with ``nasrepro.bench.harness._train``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import Table, TrialResult, build, iter_chunks, read_chunk

PROTOCOL = "synthetic-smoke"
SEEDS = [0, 1]
# Cheap cells (pools, skips, 1x1 convs, dead edges), so that training takes seconds.
_CELLS = [
    "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|",
    "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|",
    "|none~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
    "|skip_connect~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|none~1|skip_connect~2|",
]


def canonical_cells() -> list[str]:
    space = get_space("cell")
    reps = [space.canonical(CellArch.from_string(s)).to_string() for s in _CELLS]
    assert len(set(reps)) == len(reps), "pick cells of distinct classes"
    return reps


def _sweep_with_train(out: Path, archs: list[str]) -> None:
    """The sweep directory format, written by training each cell directly."""
    from nasrepro.bench.harness._train import train
    from nasrepro.tables import get_protocol, write_chunk, write_json_atomic

    p = get_protocol(PROTOCOL)
    manifest = {
        "space": "cell",
        "protocol": p.to_dict(),
        "protocol_id": p.id,
        "seeds": SEEDS,
        "archs": archs,
        "chunk_size": 3,
    }
    write_json_atomic(out / "sweep.json", manifest)
    for seed in SEEDS:
        for c in range(0, len(archs), 3):
            results = [train(a, p, seed, space="cell") for a in archs[c : c + 3]]
            write_chunk(out, seed, c // 3, p.id, "cell", results)


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished real sweep directory: 6 canonical cells x seeds 0 and 1."""
    import torch

    out = tmp_path_factory.mktemp("smoke-sweep")
    archs = canonical_cells()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only contend on shared cores
    try:
        from nasrepro.bench.harness._sweep import sweep
    except ModuleNotFoundError as e:  # only while the sweep module is not checked in
        if e.name != "nasrepro.bench.harness._sweep":
            raise
        _sweep_with_train(out, archs)
    else:
        sweep(
            space="cell",
            protocol=PROTOCOL,
            seeds=SEEDS,
            out=out,
            archs=archs,
            workers=1,
            chunk_size=3,
        )
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="session")
def sweep_results(smoke_sweep: Path) -> dict[tuple[str, int], TrialResult]:
    """Every result of the sweep, by (arch string, seed)."""
    out = {}
    for path in iter_chunks(smoke_sweep):
        for r in read_chunk(path)["results"]:
            out[r.arch, r.seed] = r
    return out


@pytest.fixture(scope="session")
def table_path(smoke_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("table") / "smoke.h5"
    build(smoke_sweep, path)
    return path


@pytest.fixture
def table(table_path: Path) -> Table:
    return Table.open(table_path)


@pytest.fixture
def sweep_copy(smoke_sweep: Path, tmp_path: Path) -> Path:
    """A private copy of the sweep directory, to damage or edit."""
    dst = tmp_path / "sweep"
    shutil.copytree(smoke_sweep, dst)
    return dst

"""Fixtures: one real smoke sweep (6 cell classes x 2 seeds), built into a table once.

The sweep trains for real under the ``synthetic-smoke`` protocol through
``nasrepro.bench.harness.sweep``. Shared constants live in ``tables_support``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tables_support import PROTOCOL, SEEDS, canonical_cells

from nasrepro.tables import Table, TrialResult, build, iter_chunks, read_chunk


@pytest.fixture(scope="session")
def smoke_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished real sweep directory: 6 canonical cells x seeds 0 and 1."""
    import torch

    from nasrepro.bench.harness import sweep

    out = tmp_path_factory.mktemp("smoke-sweep")
    archs = canonical_cells()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only contend on shared cores
    try:
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

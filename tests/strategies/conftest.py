"""The full-coverage smoke table (all 15,625 cells, mnist1d, 2 epochs, 1 seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrepro.tables import Table, TabularBenchmark

SMOKE_TABLE = Path(__file__).resolve().parent.parent / "data" / "cell-mnist1d-smoke.h5"


@pytest.fixture(scope="session")
def smoke_table() -> Table:
    if not SMOKE_TABLE.is_file():
        pytest.skip(f"{SMOKE_TABLE} is not built yet")
    return Table.open(SMOKE_TABLE)


@pytest.fixture(scope="session")
def benchmark(smoke_table: Table) -> TabularBenchmark:
    return TabularBenchmark(smoke_table, seed=0)

"""The full-coverage smoke table (all 15,625 cells, mnist1d, 2 epochs, 1 seed)."""

from __future__ import annotations

import pytest

from nasrepro.tables import Table, TabularBenchmark


@pytest.fixture(scope="session")
def benchmark(smoke_table: Table) -> TabularBenchmark:
    return TabularBenchmark(smoke_table, seed=0)

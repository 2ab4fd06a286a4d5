"""Shared pytest configuration: the smoke-table fixture; GPU tests skip cleanly without CUDA."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nasrepro.tables import Table


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA; no GPU is visible")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Undo what a test left in ``os.environ``: in-process ``main()`` and ``mlflow_run``
    set ``MLFLOW_*`` variables, and a later test's subprocess inherited them, so a check
    that the CLI quiets MLflow itself passed for the wrong reason (an audit's mutant)."""
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """One intra-op thread, as sweep workers run: tiny nets are far slower with more."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def smoke_table_path() -> Path:
    """``tests/data/cell-mnist1d-smoke.h5``: the whole cell space under ``mnist1d-smoke``.

    A checked-in fixture, so a missing file fails the suite (it never skips).
    """
    path = Path(__file__).resolve().parent / "data" / "cell-mnist1d-smoke.h5"
    if not path.is_file():
        pytest.fail(
            f"the test fixture {path} is missing; restore it with "
            "`git checkout -- tests/data/cell-mnist1d-smoke.h5`",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def smoke_table(smoke_table_path: Path) -> Table:
    """The smoke table, opened once per session."""
    from nasrepro.tables import Table

    return Table.open(smoke_table_path)
